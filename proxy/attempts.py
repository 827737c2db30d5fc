"""Failures before the first byte: retries with backoff, then the route's fallback chain.

Nothing has reached the client while this runs, so an upstream that refuses, resets or answers
429/5xx can be asked again, or another route asked instead. Each attempt is built afresh from
what the client sent, with the credentials, protocol and egress rules of the route it goes to,
so a primary's injected key never travels to a fallback's upstream.
"""

from __future__ import annotations

import asyncio
import random
import time
from email.utils import parsedate_to_datetime

import httpx
from django.conf import settings

from proxy import forward, upstream
from proxy.errors import GatewayError, from_httpx
from proxy.exchange import Exchange
from proxy.inbound import Inbound, Surface
from routing import table
from routing.families import default_targets
from routing.resolver import Resolution, fallbacks

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
# Requests for routes without a policy of their own (the legacy defaults, overrides) retry as a
# route does by default.
DEFAULT_RETRIES = 2
# Nothing reached the upstream: asking again cannot make it act twice, whatever the surface.
UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request may have reached it, but no answer came back.
UNANSWERED = (*UNSENT, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def is_model_call(inbound: Inbound, surface: Surface) -> bool:
    """A model call, or a read: asking twice costs tokens at worst, never a second side effect
    (a second file upload or batch)."""
    if inbound.method in ("GET", "HEAD") or surface.model_required:
        return True
    return surface.model_in == "path" and bool(inbound.model) and inbound.method == "POST"


async def send(
    inbound: Inbound,
    surface: Surface,
    resolution: Resolution,
    exchange: Exchange,
    prepared: httpx.Request | None = None,
) -> httpx.Response:
    """The first answer worth relaying: a success, a status not worth retrying, or the last
    failure once the retries and fallbacks are spent (raised as a GatewayError). `prepared` is
    the primary's request, already built and through the egress checks."""
    route = resolution.route
    safe = is_model_call(inbound, surface) or (route is not None and route.retry_any_surface)
    outcome = await _try_target(inbound, resolution, exchange, safe, prepared)
    if not _failed(outcome) or resolution.route is None:
        return _answer(outcome)
    if not safe and not isinstance(outcome, UNSENT):
        return _answer(outcome)
    routes = (await table.current()).routes
    chain = fallbacks(resolution, model=inbound.model, routes=routes, defaults=default_targets())
    for target in chain:
        await _close(outcome)
        outcome = await _try_target(inbound, target, exchange, safe)
        if not _failed(outcome):
            break
    return _answer(outcome)


Outcome = httpx.Response | httpx.HTTPError | GatewayError


async def _try_target(
    inbound: Inbound,
    target: Resolution,
    exchange: Exchange,
    safe: bool,
    prepared: httpx.Request | None = None,
) -> Outcome:
    """One route's attempts: the first, then its retries while the failure is worth one."""
    exchange.answered_route = target.label
    exchange.upstream_host = target.upstream.netloc
    exchange.model_forwarded = target.model
    route = target.route
    exchange.idle_timeout = route.idle_timeout if route is not None else None
    retries = route.retries if route is not None else DEFAULT_RETRIES
    outcome: Outcome = await _attempt(inbound, target, exchange, prepared)
    for retry in range(1, retries + 1):
        if not _worth_retrying(outcome, safe):
            break
        delay = backoff(retry, outcome if isinstance(outcome, httpx.Response) else None)
        await _close(outcome)
        await asyncio.sleep(delay)
        outcome = await _attempt(inbound, target, exchange, prepared)
    return outcome


async def _attempt(
    inbound: Inbound, target: Resolution, exchange: Exchange, prepared: httpx.Request | None
) -> Outcome:
    exchange.attempts += 1
    try:
        outgoing = prepared
        if outgoing is None:
            outgoing = forward.build_upstream_request(inbound, target)
            outgoing = await forward.check_egress(outgoing, target)
        exchange.upstream_started = exchange.upstream_started or time.perf_counter()
        return await upstream.send(outgoing)
    except httpx.HTTPError as exc:
        return exc
    except GatewayError as error:
        # Refused before sending (an unset key, a private address): final for this route.
        return error


def _worth_retrying(outcome: Outcome, safe: bool) -> bool:
    if isinstance(outcome, httpx.Response):
        return safe and outcome.status_code in RETRY_STATUSES
    if isinstance(outcome, UNSENT):
        return True
    return safe and isinstance(outcome, UNANSWERED)


def _failed(outcome: Outcome) -> bool:
    """Worth a fallback: any transport failure, or a status the route would have retried."""
    if isinstance(outcome, httpx.Response):
        return outcome.status_code in RETRY_STATUSES
    return isinstance(outcome, httpx.HTTPError)


def _answer(outcome: Outcome) -> httpx.Response:
    if isinstance(outcome, httpx.Response):
        return outcome
    if isinstance(outcome, GatewayError):
        raise outcome
    raise from_httpx(outcome) from None


async def _close(outcome: Outcome) -> None:
    """Drop a failed answer's connection before asking again; its body is never read."""
    if isinstance(outcome, httpx.Response):
        await outcome.aclose()


def backoff(retry: int, reply: httpx.Response | None) -> float:
    """Seconds before retry number `retry`: what the upstream asked for, else an exponential
    step with jitter, both capped by HEADROOM_RETRY_AFTER_MAX_SECONDS."""
    cap = float(settings.HEADROOM_RETRY_AFTER_MAX_SECONDS)
    asked = retry_after(reply) if reply is not None else None
    if asked is not None:
        return min(asked, cap)
    step: float = float(settings.HEADROOM_RETRY_BACKOFF_SECONDS) * 2.0 ** (retry - 1)
    return min(step, cap) * random.uniform(0.5, 1.0)


def retry_after(reply: httpx.Response) -> float | None:
    """`retry-after-ms` (OpenAI's), or `retry-after` as seconds or an HTTP date."""
    value = reply.headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    value = reply.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
