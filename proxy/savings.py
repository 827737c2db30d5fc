"""The savings step of one request: the route's compression policy, the engine run within its
budget, and the token figures the response headers (SPEC §5) and the request log (§9) report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import NamedTuple

from django.conf import settings

from proxy.compression import CompressionResult, compress_request
from proxy.compression.engine import ERROR_PREFIX, MODE_OFF, UNKNOWN_MODE, UNSUPPORTED_ENDPOINT
from proxy.compression.policy import OFF, RequestPolicy, from_settings
from proxy.exchange import Exchange
from proxy.inbound import Inbound
from requestlog.usage import Usage
from routing.models import UpstreamRoute

logger = logging.getLogger(__name__)

BYPASS_HEADER = "x-headroom-bypass"
BYPASS = "bypass"
_TRUE = frozenset({"true", "1", "yes"})
# Engine outcomes that mean it never looked at the body: no headers, no tokens on the row.
_NOT_RUN = frozenset({MODE_OFF, UNKNOWN_MODE, UNSUPPORTED_ENDPOINT})


def bypassed(inbound: Inbound) -> bool:
    return inbound.headers.get(BYPASS_HEADER, "").strip().lower() in _TRUE


def policy_for(route: UpstreamRoute | None) -> RequestPolicy:
    """The route's mode and minimum block size, each blank one taken from the settings."""
    chosen = from_settings(route.compression if route is not None else "")
    if route is not None and route.compression_min_bytes is not None:
        chosen = replace(chosen, min_bytes=route.compression_min_bytes)
    return chosen


class Job(NamedTuple):
    """One engine run, as plain values a worker process can take: the body goes beside it. A
    tuple, because every request makes one and a tuple is the cheapest to make."""

    family: str
    path: str
    mode: str
    min_bytes: int
    budget_ms: float
    max_bytes: int
    skip: str  # why the engine only counts this body ("" when it may compress it)

    def run(self, body: bytes) -> CompressionResult:
        return compress_request(
            self.family,
            self.path,
            body,
            mode=self.mode,
            min_bytes=self.min_bytes,
            budget_ms=self.budget_ms,
            max_bytes=self.max_bytes,
        )

    def engine(self) -> Callable[[bytes], CompressionResult]:
        """The engine call, body to result: a worker process can take it without this module,
        which loads Django's models."""
        return partial(
            compress_request,
            self.family,
            self.path,
            mode=self.mode,
            min_bytes=self.min_bytes,
            budget_ms=self.budget_ms,
            max_bytes=self.max_bytes,
        )


def apply(inbound: Inbound, route: UpstreamRoute | None, exchange: Exchange) -> None:
    """Compress the tool output of a model-routed request body in place; never fails a request.

    A stream the engine may not touch (bypass, mode off) is still counted, so that if it breaks
    off before its usage arrives, its row can be priced from the estimate.
    """
    job = prepare(inbound, route, exchange)
    if job is None:
        return
    try:
        result = job.run(inbound.body)
    except Exception as exc:
        failed(exchange, exc)
        return
    finish(inbound, exchange, job, result)


def prepare(inbound: Inbound, route: UpstreamRoute | None, exchange: Exchange) -> Job | None:
    """The engine run this request needs, or None (and the note says why) when it needs none."""
    if not inbound.model or not inbound.body:
        return None
    chosen = policy_for(route)
    skip = skipped(inbound, chosen)
    if skip and not inbound.stream:
        exchange.savings_note = skip
        return None
    return Job(
        family=inbound.family,
        path=inbound.path,
        mode=OFF if skip else chosen.mode,
        min_bytes=chosen.min_bytes,
        budget_ms=chosen.budget_ms,
        max_bytes=max_body_bytes(),
        skip=skip,
    )


def finish(inbound: Inbound, exchange: Exchange, job: Job, result: CompressionResult) -> None:
    """Forward the engine's body and put its figures on the exchange."""
    inbound.body = result.body
    exchange.estimated_input = result.tokens_after
    exchange.savings_note = job.skip or result.reason
    if not job.skip and result.reason not in _NOT_RUN:
        exchange.tokens_before, exchange.tokens_after = result.tokens_before, result.tokens_after


def failed(exchange: Exchange, exc: BaseException) -> None:
    # The engine promises not to raise; if it ever does, the body still goes as it came.
    # Only the class name is logged: the message may quote the request.
    logger.warning("compression failed with %s; body forwarded unchanged", type(exc).__name__)
    exchange.savings_note = ERROR_PREFIX + type(exc).__name__


def max_body_bytes() -> int:
    """HEADROOM_COMPRESSION_MAX_BYTES: the engine does not read a larger body (0 = no limit)."""
    return max(int(getattr(settings, "HEADROOM_COMPRESSION_MAX_BYTES", 0) or 0), 0)


def skipped(inbound: Inbound, chosen: RequestPolicy) -> str:
    """Why the engine must leave this body alone, or "" when it may compress it."""
    if bypassed(inbound):
        return BYPASS
    return MODE_OFF if chosen.mode == OFF else ""


def billed_input(usage: Usage | None) -> int:
    if usage is None:
        return 0
    return usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens


def calibrated(before: int, after: int, usage: Usage | None) -> tuple[int, int]:
    """The estimates scaled by k = billed input tokens / estimated tokens sent.

    The estimator is linear in the bytes, so one factor per request turns both figures into the
    provider's tokens: `after` becomes exactly the billed input. Without billed input the
    estimates stand as they are.
    """
    billed = billed_input(usage)
    if not billed or after <= 0:
        return before, after
    return round(before * billed / after), billed


def figures(exchange: Exchange) -> tuple[int, int] | None:
    """Tokens before and after the engine, calibrated once usage is known; None if not run."""
    if exchange.tokens_before is None or exchange.tokens_after is None:
        return None
    return calibrated(exchange.tokens_before, exchange.tokens_after, exchange.usage)


def saved_figures(exchange: Exchange, status: int) -> tuple[int, int] | None:
    """The figures a request counts as saved: only an answered request saved anything. A failed
    one (an error status, the upstream unreachable) was never billed, so it saved nothing."""
    return figures(exchange) if 200 <= status < 300 else None


def headers(exchange: Exchange) -> dict[str, str]:
    """`x-headroom-tokens-*` when the engine ran. A stream's headers leave before its usage
    arrives, so they carry the uncalibrated estimate; the row keeps both. An error answer saved
    nothing and carries none."""
    counted = figures(exchange) if exchange.status < 400 else None
    if counted is None:
        return {}
    before, after = counted
    return {
        "x-headroom-tokens-before": str(before),
        "x-headroom-tokens-after": str(after),
        "x-headroom-tokens-saved": str(max(before - after, 0)),
    }


def row_fields(exchange: Exchange, status: int) -> dict[str, object]:
    """The request-log columns of the savings step; `status` is the one the row records."""
    counted = saved_figures(exchange, status)
    # Where the engine did not run, the body went as it came: one estimate is both figures.
    after = exchange.tokens_after if exchange.tokens_after is not None else exchange.estimated_input
    before = exchange.tokens_before if exchange.tokens_before is not None else after
    return {
        "tokens_before": None if counted is None else counted[0],
        "tokens_after": None if counted is None else counted[1],
        "estimated_tokens_before": before,
        "estimated_tokens_after": after,
        "savings_note": exchange.savings_note[:64],
    }
