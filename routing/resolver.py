"""The pure route resolver (SPEC §2–§3): model, family and override in, upstream and auth out.

No ORM queries, no settings, no I/O: callers pass the route table and the default targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from routing.baseurl import AllowEntry, BaseURL, InvalidBaseURL, parse_base_url
from routing.fallbacks import chain
from routing.models import PASSTHROUGH, UpstreamRoute

DEFAULT_LABEL = "default"
OVERRIDE_LABEL = "override"


class ResolutionError(Exception):
    """The request cannot be routed; status is the HTTP status the caller should get."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Resolution:
    upstream: BaseURL
    protocol: str  # how injected credentials are presented
    auth: str  # "passthrough" or "env:VAR"
    route: UpstreamRoute | None  # the matched route, also when an override picks the target
    label: str  # the matched prefix, "default" or "override"
    model: str  # the model name to forward
    override: bool = False
    # A client-chosen DNS name must have every resolved address checked (SPEC §3).
    check_addresses: bool = False
    allow_private: bool = False


def match_route(model: str, routes: Sequence[UpstreamRoute]) -> UpstreamRoute | None:
    """The first enabled route, by position, whose prefix matches the model."""
    for route in sorted(routes, key=lambda r: (r.position, r.pk or 0)):
        if route.enabled and route.matches(model):
            return route
    return None


def forwarded_model(model: str, route: UpstreamRoute | None) -> str:
    if route is None or not route.strip_prefix or route.matches_everything:
        return model
    return model[len(route.model_prefix) :]


def parse_override(base_url: str | None, upstream: str | None) -> BaseURL | None:
    """The override target from x-headroom-base-url and its alias x-headroom-upstream."""
    values = []
    for raw in (base_url, upstream):
        if raw is None or not raw.strip():
            continue
        try:
            values.append(parse_base_url(raw))
        except InvalidBaseURL as exc:
            raise ResolutionError(403, f"upstream override refused: {exc}") from None
    if len(set(values)) > 1:
        raise ResolutionError(
            400, "x-headroom-base-url and x-headroom-upstream name different upstreams"
        )
    return values[0] if values else None


def resolve(
    *,
    model: str,
    family: str,
    routes: Sequence[UpstreamRoute],
    defaults: Mapping[str, str],
    override: BaseURL | None = None,
    allowed: Sequence[AllowEntry] = (),
) -> Resolution:
    route = match_route(model, routes)
    model_out = forwarded_model(model, route)
    if override is not None:
        return _resolve_override(override, route, model_out, family, routes, allowed)
    if route is None:
        return Resolution(
            upstream=parse_base_url(defaults[family]),
            protocol=family,
            auth=PASSTHROUGH,
            route=None,
            label=DEFAULT_LABEL,
            model=model_out,
        )
    return Resolution(
        upstream=parse_base_url(route.upstream or defaults[route.protocol]),
        protocol=route.protocol,
        auth=route.auth,
        route=route,
        label=route.model_prefix,
        model=model_out,
    )


def _resolve_override(
    target: BaseURL,
    route: UpstreamRoute | None,
    model: str,
    family: str,
    routes: Sequence[UpstreamRoute],
    allowed: Sequence[AllowEntry],
) -> Resolution:
    # A route's own upstream is an explicit admin choice: allowed, no address checks.
    for candidate in routes:
        if (
            candidate.enabled
            and candidate.upstream
            and parse_base_url(candidate.upstream) == target
        ):
            return _override(target, route, model, family, PASSTHROUGH)
    for entry in allowed:
        if entry.matches(target):
            explicit = entry.names_explicit_host
            return _override(
                target,
                route,
                model,
                family,
                entry.auth,
                check_addresses=not explicit,
                allow_private=entry.allow_private or explicit,
            )
    raise ResolutionError(403, "upstream override refused: the target is not on the allowlist")


def _override(
    target: BaseURL,
    route: UpstreamRoute | None,
    model: str,
    family: str,
    auth: str,
    *,
    check_addresses: bool = False,
    allow_private: bool = True,
) -> Resolution:
    return Resolution(
        upstream=target,
        protocol=family,
        auth=auth,
        route=route,
        label=OVERRIDE_LABEL,
        model=model,
        override=True,
        check_addresses=check_addresses,
        allow_private=allow_private,
    )


def fallbacks(
    resolution: Resolution,
    *,
    model: str,
    routes: Sequence[UpstreamRoute],
    defaults: Mapping[str, str],
) -> list[Resolution]:
    """What to try, in order, when the resolved route fails before the first byte: its fallback
    chain, each with its own upstream, protocol and auth. A client-chosen target has none.

    A fallback forwards the client's model with its own prefix stripped when it matches and asks
    for that; otherwise it gets the model the primary would have forwarded.
    """
    if resolution.override or resolution.route is None:
        return []
    return [
        Resolution(
            upstream=parse_base_url(route.upstream or defaults[route.protocol]),
            protocol=route.protocol,
            auth=route.auth,
            route=route,
            label=route.model_prefix,
            model=forwarded_model(model, route) if route.matches(model) else resolution.model,
        )
        for route in chain(resolution.route, routes)
    ]
