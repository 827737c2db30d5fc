"""Requests in flight on this worker, per gateway key and per upstream host: one caller, or one
stalled upstream, cannot take every slot; past a cap the answer is 429 with retry-after.

Counted on the event loop's thread only (entered in the gateway, left when the exchange is
recorded), so plain dictionaries need no lock.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.conf import settings

from proxy.errors import GatewayError
from proxy.exchange import Exchange

# Seconds a refused caller is asked to wait: in-flight requests end at their own pace.
RETRY_AFTER_SECONDS = 1
_by_key: Counter[int] = Counter()
_by_host: Counter[str] = Counter()


def enter(exchange: Exchange, key_cap: int | None) -> None:
    """Take a slot for the exchange's key and upstream host, or refuse with 429."""
    key_id, host = exchange.gateway_key_id, exchange.upstream_host
    cap = key_cap or settings.HEADROOM_MAX_IN_FLIGHT_PER_KEY
    if key_id is not None and cap and _by_key[key_id] >= cap:
        raise busy(f"this gateway key already has {cap} requests in flight")
    host_cap = settings.HEADROOM_MAX_IN_FLIGHT_PER_UPSTREAM
    if host_cap and _by_host[host] >= host_cap:
        raise busy("the upstream has too many requests in flight")
    if key_id is not None:
        _by_key[key_id] += 1
    _by_host[host] += 1
    exchange.in_flight = (key_id, host)


def leave(exchange: Exchange) -> None:
    """Give the exchange's slots back; once, whatever way the request ended."""
    held, exchange.in_flight = exchange.in_flight, None
    if held is None:
        return
    key_id, host = held
    if key_id is not None:
        _release(_by_key, key_id)
    _release(_by_host, host)


def _release(counts: Counter[Any], name: object) -> None:
    counts[name] -= 1
    if counts[name] <= 0:
        del counts[name]


def busy(message: str) -> GatewayError:
    headers = {"retry-after": str(RETRY_AFTER_SECONDS)}
    return GatewayError(429, message, "too_many_in_flight", headers=headers)


def in_flight() -> tuple[dict[int, int], dict[str, int]]:
    """This worker's counts (tests and diagnostics)."""
    return dict(_by_key), dict(_by_host)
