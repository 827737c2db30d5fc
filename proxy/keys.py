"""Gateway keys (SPEC §4): issuing `hr-…` secrets, each worker's cached key table, and who calls.

Only a keyed hash of a secret is stored or cached. A presented key costs one HMAC and a dict
lookup, never a query; `last_used` is written by the refresh thread, at most once a minute.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.crypto import salted_hmac

from proxy import credentials, limits
from proxy.errors import GatewayError
from proxy.models import GatewayKey
from routing.polled import PolledCopy

if TYPE_CHECKING:
    from proxy.exchange import Exchange
    from proxy.gateway import Inbound

# Shown in lists (`hr-abcde…`); the rest of the secret exists only with its holder.
DISPLAY_CHARS = 8
# A key's last_used is written at most this often, per worker.
TOUCH_SECONDS = 60.0
_HASH_SALT = "headroom.gateway-keys"


@dataclass(frozen=True)
class KeyRecord:
    """What a worker keeps of one GatewayKey row: everything but last_used."""

    id: int
    secret_hash: str
    team: str
    name: str
    active: bool
    expires: datetime | None
    requests_per_minute: int | None
    monthly_budget_usd: Decimal | None

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and self.expires <= now


_FIELDS = tuple(field for field in KeyRecord.__dataclass_fields__)


@dataclass(frozen=True)
class KeyTable:
    by_hash: dict[str, KeyRecord]
    fingerprint: tuple[KeyRecord, ...]

    def find(self, secret: str) -> KeyRecord | None:
        digest = hash_secret(secret)
        record = self.by_hash.get(digest)
        if record is None or not hmac.compare_digest(record.secret_hash, digest):
            return None
        return record


def new_secret() -> str:
    return credentials.GATEWAY_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """HMAC-SHA256 under the server's key secret: fast to check, useless without the server."""
    server_secret = settings.HEADROOM_KEY_SECRET or settings.SECRET_KEY
    return salted_hmac(_HASH_SALT, secret, secret=server_secret, algorithm="sha256").hexdigest()


def assign_secret(key: GatewayKey) -> str:
    """Give an unsaved key a fresh secret; the caller shows the returned secret once."""
    secret = new_secret()
    key.prefix = secret[:DISPLAY_CHARS]
    key.secret_hash = hash_secret(secret)
    return secret


def issue(**fields: object) -> tuple[GatewayKey, str]:
    """Create a key and return it with its secret, which is not stored anywhere."""
    key = GatewayKey(**fields)
    secret = assign_secret(key)
    key.save()
    return key, secret


# Touches waiting for the refresh thread, and when this worker last recorded one per key.
_touch_lock = threading.Lock()
_pending_touches: dict[int, datetime] = {}
_last_touch: dict[int, float] = {}


def load() -> KeyTable:
    """Read the key table (sync; one query)."""
    rows = GatewayKey.objects.order_by("id").values_list(*_FIELDS)
    records = tuple(KeyRecord(*row) for row in rows)
    return KeyTable({record.secret_hash: record for record in records}, records)


def reset() -> None:
    """Forget this worker's keys, touches and cached spend (tests start from a clean worker)."""
    global _pending_touches
    invalidate()
    with _touch_lock:
        _pending_touches = {}
        _last_touch.clear()
    limits.forget_spend()


@receiver([post_save, post_delete], sender=GatewayKey)
def _key_changed(**kwargs: object) -> None:
    invalidate()


def touch(key_id: int) -> None:
    """Note that a key was used; the refresh thread writes it (at most once a minute)."""
    now = time.monotonic()
    if now - _last_touch.get(key_id, -TOUCH_SECONDS) < TOUCH_SECONDS:
        return
    with _touch_lock:
        _last_touch[key_id] = now
        _pending_touches[key_id] = timezone.now()


def flush_touches() -> int:
    """Write the noted last_used times; returns how many keys were updated."""
    global _pending_touches
    with _touch_lock:
        pending, _pending_touches = _pending_touches, {}
    for key_id, when in pending.items():
        # update() sends no post_save, so a touch never invalidates the key table.
        GatewayKey.objects.filter(pk=key_id).update(last_used=when)
    return len(pending)


# Each worker's copy of the key table; its refresh thread also writes the noted touches.
_copy = PolledCopy("gateway keys", load, before_load=flush_touches)
current = _copy.current
current_sync = _copy.current_sync
invalidate = _copy.invalidate


async def identify(inbound: Inbound, exchange: Exchange) -> KeyRecord | None:
    """Name the calling team on the exchange, or refuse the request (401) before any upstream
    contact. A presented key is always checked; a missing one only when required. The key's
    limits are applied later, by `admit`, once the request is known to be sendable."""
    secret = credentials.gateway_key(inbound.headers, inbound.query)
    if not secret:
        if settings.HEADROOM_REQUIRE_KEY:
            raise GatewayError(
                401,
                "a gateway key is required: send it as x-headroom-key or as the API key",
                "gateway_key_required",
            )
        return None
    key = (await current()).find(secret)
    if key is None:
        raise GatewayError(401, "the gateway key is not valid", "gateway_key_invalid")
    exchange.team, exchange.gateway_key_id = key.team, key.id
    if not key.active:
        raise GatewayError(401, "the gateway key has been disabled", "gateway_key_disabled")
    if key.expired(timezone.now()):
        raise GatewayError(401, "the gateway key has expired", "gateway_key_expired")
    touch(key.id)
    return key


async def admit(key: KeyRecord | None) -> None:
    """Count the request against the key's rate and budget (429 when over either)."""
    if key is not None:
        await limits.enforce(key)
