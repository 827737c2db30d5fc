"""Who calls (SPEC §4): a presented gateway key is found in the worker's key table, checked, and
held to its limits; a missing one is refused only when keys are required."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from keys import limits, table
from keys.errors import Refused
from keys.table import KeyRecord


async def identify(secret: str | None) -> KeyRecord | None:
    """The caller's key record, None for an anonymous caller, or Refused (401) before any
    upstream contact. A presented key is always checked; a missing one only when required. The
    key's limits are applied later, by `enforce`, once the request is known to be sendable."""
    if not secret:
        if settings.HEADROOM_REQUIRE_KEY:
            raise Refused(
                401,
                "a gateway key is required: send it as x-headroom-key or as the API key",
                "gateway_key_required",
            )
        return None
    key = (await table.current()).find(secret)
    if key is None:
        raise Refused(401, "the gateway key is not valid", "gateway_key_invalid")
    try:
        check_usable(key)
    except Refused as refusal:
        refusal.key = key
        raise
    table.touch(key.id)
    return key


async def enforce(key: KeyRecord | None) -> None:
    """Count the request against the key's rate and budget (Refused, 429, when over either)."""
    if key is not None:
        await limits.enforce(key)


async def recognize(secret: str) -> KeyRecord:
    """A valid, usable key, without counting a request against its limits (a metrics scrape
    is not traffic); Refused (401) otherwise."""
    key = (await table.current()).find(secret)
    if key is None:
        raise Refused(401, "the gateway key is not valid", "gateway_key_invalid")
    check_usable(key)
    return key


def check_usable(key: KeyRecord) -> None:
    if not key.active:
        raise Refused(401, "the gateway key has been disabled", "gateway_key_disabled")
    if key.expired(timezone.now()):
        raise Refused(401, "the gateway key has expired", "gateway_key_expired")


def reset() -> None:
    """Forget this worker's keys, touches and cached spend (tests start from a clean worker)."""
    table.forget()
    limits.forget_spend()
