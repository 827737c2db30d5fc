"""Fallback chains between routes: which route a fallback names, and the problems a route table's
fallbacks have (a name no enabled route carries, a cycle). Pure: callers pass the routes."""

from __future__ import annotations

from collections.abc import Sequence

from routing.models import UpstreamRoute


def target(route: UpstreamRoute, routes: Sequence[UpstreamRoute]) -> UpstreamRoute | None:
    """The first enabled route, by position, other than `route`, whose prefix the fallback names
    (case-insensitive, as prefixes match); None when the route has no usable fallback."""
    name = route.fallback.strip().lower()
    if not name:
        return None
    for candidate in sorted(routes, key=lambda r: (r.position, r.pk or 0)):
        if (
            candidate.enabled
            and candidate is not route
            and (route.pk is None or candidate.pk != route.pk)
            and candidate.model_prefix.lower() == name
        ):
            return candidate
    return None


def chain(route: UpstreamRoute, routes: Sequence[UpstreamRoute]) -> list[UpstreamRoute]:
    """The routes tried after `route`, in order, each once (a cycle ends the chain)."""
    tried, seen = [], {id(route)}
    current = target(route, routes)
    while current is not None and id(current) not in seen:
        tried.append(current)
        seen.add(id(current))
        current = target(current, routes)
    return tried


def problem(route: UpstreamRoute, routes: Sequence[UpstreamRoute]) -> str:
    """Why the route's fallback is not usable, or "" when it is (or the route has none)."""
    if not route.fallback.strip():
        return ""
    first = target(route, routes)
    if first is None:
        return f"no other enabled route has the model prefix {route.fallback.strip()!r}"
    path = [route]
    current: UpstreamRoute | None = first
    while current is not None:
        if any(current is seen or (current.pk and current.pk == seen.pk) for seen in path):
            names = " → ".join(r.model_prefix for r in [*path, current])
            return f"fallbacks form a cycle: {names}"
        path.append(current)
        current = target(current, routes)
    return ""
