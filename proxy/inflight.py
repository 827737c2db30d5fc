"""Requests in flight on this worker, per gateway key and per upstream host: one caller, or one
stalled upstream, cannot take every slot; past a cap the answer is 429 with retry-after.

Counted on the event loop's thread only (entered in the gateway, left when the exchange is
recorded), so no lock is needed. The sets hold each exchange's slot weakly and only the
exchange holds it strongly: an exchange dropped without ever being recorded (a streamed answer
whose body was never started) frees its slot when it is collected, not never.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakSet

from django.conf import settings

from proxy.errors import GatewayError
from proxy.exchange import Exchange, Slot

# Seconds a refused caller is asked to wait: in-flight requests end at their own pace.
RETRY_AFTER_SECONDS = 1


_by_key: dict[int, WeakSet[Slot]] = {}
_by_host: dict[str, WeakSet[Slot]] = {}


def enter(exchange: Exchange, key_cap: int | None) -> None:
    """Take a slot for the exchange's key and upstream host, or refuse with 429."""
    key_id, host = exchange.gateway_key_id, exchange.upstream_host
    cap = key_cap or settings.HEADROOM_MAX_IN_FLIGHT_PER_KEY
    if key_id is not None and cap and len(_by_key.get(key_id, ())) >= cap:
        raise busy(f"this gateway key already has {cap} requests in flight")
    host_cap = settings.HEADROOM_MAX_IN_FLIGHT_PER_UPSTREAM
    if host_cap and len(_by_host.get(host, ())) >= host_cap:
        raise busy("the upstream has too many requests in flight")
    slot = Slot(key_id, host)
    if key_id is not None:
        _by_key.setdefault(key_id, WeakSet()).add(slot)
    _by_host.setdefault(host, WeakSet()).add(slot)
    exchange.in_flight = slot


def leave(exchange: Exchange) -> None:
    """Give the exchange's slots back; once, whatever way the request ended."""
    slot, exchange.in_flight = exchange.in_flight, None
    if slot is None:
        return
    if slot.key_id is not None:
        _release(_by_key, slot.key_id, slot)
    _release(_by_host, slot.host, slot)


def _release(sets: dict[Any, WeakSet[Slot]], name: Any, slot: Slot) -> None:
    members = sets.get(name)
    if members is None:
        return
    members.discard(slot)
    if not members:
        del sets[name]


def busy(message: str) -> GatewayError:
    headers = {"retry-after": str(RETRY_AFTER_SECONDS)}
    return GatewayError(429, message, "too_many_in_flight", headers=headers)


def in_flight() -> tuple[dict[int, int], dict[str, int]]:
    """This worker's counts (tests and diagnostics)."""
    return (
        {key: len(members) for key, members in _by_key.items() if members},
        {host: len(members) for host, members in _by_host.items() if members},
    )
