"""Each worker's cached copy of the gateway-key table (`routing.polled`: no query per request).

Only a keyed hash of a secret is stored or cached. A presented key costs one HMAC and a dict
lookup, never a query; `last_used` is written by the refresh thread, at most once a minute.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from keys.issuing import hash_secret
from keys.models import GatewayKey
from routing.polled import PolledCopy

# A key's last_used is written at most this often, per worker.
TOUCH_SECONDS = 60.0


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
    max_in_flight: int | None = None

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


# Touches waiting for the refresh thread, and when this worker last recorded one per key.
_touch_lock = threading.Lock()
_pending_touches: dict[int, datetime] = {}
_last_touch: dict[int, float] = {}


def load() -> KeyTable:
    """Read the key table (sync; one query)."""
    rows = GatewayKey.objects.order_by("id").values_list(*_FIELDS)
    records = tuple(KeyRecord(*row) for row in rows)
    return KeyTable({record.secret_hash: record for record in records}, records)


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


def forget() -> None:
    """Drop this worker's copy of the keys and its noted touches."""
    global _pending_touches
    invalidate()
    with _touch_lock:
        _pending_touches = {}
        _last_touch.clear()
