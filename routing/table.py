"""Each worker's cached copy of the route table and the allowed override targets
(`routing.polled`: no query per request, edits anywhere apply within a poll interval).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from routing.baseurl import AllowEntry, InvalidBaseURL
from routing.models import AllowedUpstream, UpstreamRoute
from routing.polled import PolledCopy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[UpstreamRoute, ...]
    allowed: tuple[AllowEntry, ...]
    fingerprint: tuple[object, ...]


def load() -> RouteTable:
    """Read both tables (sync; one query each)."""
    routes = tuple(UpstreamRoute.objects.order_by("position", "id"))
    rows = tuple(AllowedUpstream.objects.filter(enabled=True).order_by("id"))
    allowed = []
    for row in rows:
        try:
            allowed.append(row.as_entry())
        except InvalidBaseURL as exc:
            # A row saved before a rule existed (a wildcard marked for injection) is skipped.
            logger.warning("allowed upstream %s ignored: %s", row.pk, exc)
    for item in settings.HEADROOM_ALLOWED_UPSTREAMS:
        try:
            allowed.append(AllowEntry.parse(item))
        except InvalidBaseURL as exc:
            logger.warning("HEADROOM_ALLOWED_UPSTREAMS item ignored: %s", exc)
    # Every column counts, so even queryset.update() and raw SQL edits are noticed.
    fields = UpstreamRoute._meta.concrete_fields
    fingerprint = (tuple(tuple(getattr(r, f.attname) for f in fields) for r in routes), *allowed)
    return RouteTable(routes, tuple(allowed), fingerprint)


_copy = PolledCopy("route table", load)
current = _copy.current
current_sync = _copy.current_sync
invalidate = _copy.invalidate


@receiver([post_save, post_delete], sender=UpstreamRoute)
@receiver([post_save, post_delete], sender=AllowedUpstream)
def _route_changed(**kwargs: object) -> None:
    invalidate()
