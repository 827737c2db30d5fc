"""Each worker's cached copy of the route table, kept fresh without a query per request.

Saves in this process invalidate the copy at once (signals); a background thread re-reads the
tables every HEADROOM_ROUTES_POLL_SECONDS so edits made by other workers or machines apply too.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from routing.baseurl import AllowEntry, InvalidBaseURL
from routing.models import AllowedUpstream, UpstreamRoute

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[UpstreamRoute, ...]
    allowed: tuple[AllowEntry, ...]
    fingerprint: tuple


_table: RouteTable | None = None
_poller: threading.Thread | None = None
_lock = threading.Lock()


def load() -> RouteTable:
    """Read both tables (sync; one query each)."""
    routes = tuple(UpstreamRoute.objects.order_by("position", "id"))
    rows = tuple(AllowedUpstream.objects.filter(enabled=True).order_by("id"))
    allowed = [row.as_entry() for row in rows]
    for item in settings.HEADROOM_ALLOWED_UPSTREAMS:
        try:
            allowed.append(AllowEntry.parse(item))
        except InvalidBaseURL as exc:
            logger.warning("HEADROOM_ALLOWED_UPSTREAMS item ignored: %s", exc)
    # Every column counts, so even queryset.update() and raw SQL edits are noticed.
    fields = UpstreamRoute._meta.concrete_fields
    fingerprint = (tuple(tuple(getattr(r, f.attname) for f in fields) for r in routes), *allowed)
    return RouteTable(routes, tuple(allowed), fingerprint)


def current_sync() -> RouteTable:
    global _table
    table = _table
    if table is None:
        table = _table = load()
    _ensure_poller()
    return table


async def current() -> RouteTable:
    """The table for this request: no query unless it was invalidated."""
    table = _table
    if table is None:
        table = await sync_to_async(current_sync)()
    else:
        _ensure_poller()
    return table


def invalidate() -> None:
    global _table
    _table = None


@receiver([post_save, post_delete], sender=UpstreamRoute)
@receiver([post_save, post_delete], sender=AllowedUpstream)
def _route_changed(**kwargs) -> None:
    invalidate()


def _ensure_poller() -> None:
    global _poller
    if settings.HEADROOM_ROUTES_POLL_SECONDS <= 0 or (_poller is not None and _poller.is_alive()):
        return
    with _lock:
        if _poller is None or not _poller.is_alive():
            _poller = threading.Thread(target=_poll, name="headroom-routes", daemon=True)
            _poller.start()


def _poll() -> None:
    """Re-read the tables until polling is switched off (interval read afresh each round)."""
    global _table
    while (interval := settings.HEADROOM_ROUTES_POLL_SECONDS) > 0:
        time.sleep(interval)
        try:
            fresh = load()
        except Exception:
            logger.exception("could not refresh the route table; keeping the previous copy")
            continue
        finally:
            close_old_connections()
        if _table is None or fresh.fingerprint != _table.fingerprint:
            _table = fresh
