"""The gateway's own model list (SPEC §2): `GET /v1/models` and Gemini's `GET /v1beta/models`
sent with a gateway key are answered from the routes, in the caller's wire format.

Each enabled route contributes its upstream's models that its prefix matches, named as the
client must send them; a model is listed once, by the route that resolution would pick for it.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.http import HttpResponse

from keys.issuing import is_gateway_key
from proxy import credentials
from proxy.modelsource import Listed, Source, credential_headers, models
from proxy.wire import CREDENTIAL_HEADERS, gemini
from routing import table
from routing.baseurl import InvalidBaseURL, parse_base_url
from routing.models import PASSTHROUGH, UpstreamRoute
from routing.resolver import match_route

if TYPE_CHECKING:
    from proxy.exchange import Exchange
    from proxy.inbound import Inbound

LIST_PATHS = frozenset({"/v1/models", "/v1beta/models"})
ROUTE_LABEL = "gateway"
# Upstream lists fetched at once for one answer, and the longest the whole answer waits.
CONCURRENCY = 4
TOTAL_SECONDS = 20.0
GEMINI_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]


def answers(inbound: Inbound, exchange: Exchange) -> bool:
    """A list request from a caller who presented a valid gateway key, with no override: an
    override names one upstream, whose own list is then relayed as before."""
    return (
        inbound.method == "GET"
        and inbound.path in LIST_PATHS
        and exchange.gateway_key_id is not None
        and not inbound.headers.get("x-headroom-base-url", "").strip()
        and not inbound.headers.get("x-headroom-upstream", "").strip()
    )


async def respond(
    inbound: Inbound, exchange: Exchange, defaults: Mapping[str, str]
) -> HttpResponse:
    routes = (await table.current()).routes
    listed = await servable(routes, inbound, defaults)
    exchange.status, exchange.route_label = 200, ROUTE_LABEL
    body = json.dumps(SHAPES[inbound.family](listed)).encode()
    response = HttpResponse(body, content_type="application/json")
    response["content-length"] = str(len(body))
    return response


async def servable(
    routes: Sequence[UpstreamRoute], inbound: Inbound, defaults: Mapping[str, str]
) -> list[tuple[str, Listed, UpstreamRoute]]:
    enabled = [route for route in ordered(routes) if route.enabled]
    sources = [source_for(route, inbound, defaults) for route in enabled]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(source: Source | None) -> tuple[Listed, ...]:
        if source is None:
            return ()
        async with gate:
            return await models(source)

    tasks = [asyncio.ensure_future(one(source)) for source in sources]
    done, pending = await asyncio.wait(tasks, timeout=TOTAL_SECONDS) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    lists = [task.result() if task in done else () for task in tasks]
    return select(routes, zip(enabled, lists, strict=True))


def ordered(routes: Sequence[UpstreamRoute]) -> list[UpstreamRoute]:
    return sorted(routes, key=lambda r: (r.position, r.pk or 0))


def select(
    routes: Sequence[UpstreamRoute], lists: Iterable[tuple[UpstreamRoute, Sequence[Listed]]]
) -> list[tuple[str, Listed, UpstreamRoute]]:
    """Each upstream model under the name a client must send, once, by the route that wins it.

    `routes` is the whole table, so a name is kept only where resolution would pick this route.
    """
    chosen: list[tuple[str, Listed, UpstreamRoute]] = []
    seen: set[str] = set()
    for route, listed in lists:
        for model in listed:
            name = client_name(route, model.id)
            if name is None or name in seen or match_route(name, routes) is not route:
                continue
            seen.add(name)
            chosen.append((name, model, route))
    return chosen


def client_name(route: UpstreamRoute, upstream_id: str) -> str | None:
    """The name that reaches `upstream_id` through `route`, or None when the route cannot."""
    if route.matches_everything:
        return upstream_id
    if route.strip_prefix:
        return route.model_prefix + upstream_id
    return upstream_id if route.matches(upstream_id) else None


def source_for(
    route: UpstreamRoute, inbound: Inbound, defaults: Mapping[str, str]
) -> Source | None:
    """Where the route's list comes from, or None when there is no credential to ask with."""
    try:
        base = parse_base_url(route.upstream or defaults[route.protocol])
    except (InvalidBaseURL, KeyError):
        return None
    if route.auth != PASSTHROUGH:
        key = os.environ.get(route.auth.removeprefix("env:"), "").strip()
        if not key:
            return None
        return Source(route.pk, base, route.protocol, credential_headers(route.protocol, key))
    # The caller's own key is for its own family's provider: it goes only to passthrough routes
    # of that protocol, never to a provider of another kind.
    if route.protocol != inbound.family:
        return None
    headers, query_key = caller_credential(inbound)
    if not headers and not query_key:
        return None
    return Source(route.pk, base, route.protocol, headers, query_key)


def caller_credential(inbound: Inbound) -> tuple[tuple[tuple[str, str], ...], str]:
    """The provider credential the caller sent besides its gateway key (headers, `?key=`)."""
    headers = tuple(
        (name, inbound.headers[name])
        for name in CREDENTIAL_HEADERS
        if (value := credentials.bare_value(name, inbound.headers.get(name, "")))
        and not is_gateway_key(value)
    )
    key = gemini.query_key(inbound.query) or ""
    return headers, "" if is_gateway_key(key) else key


# The answer in each family's list format.


def openai_list(listed: list[tuple[str, Listed, UpstreamRoute]]) -> dict[str, Any]:
    data = [
        {
            "id": name,
            "object": "model",
            "created": model.created or 0,
            "owned_by": model.owned_by or route.protocol,
        }
        for name, model, route in listed
    ]
    return {"object": "list", "data": data}


def anthropic_list(listed: list[tuple[str, Listed, UpstreamRoute]]) -> dict[str, Any]:
    data = [
        {
            "type": "model",
            "id": name,
            "display_name": model.display_name or name,
            "created_at": rfc3339(model.created),
        }
        for name, model, _route in listed
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def gemini_list(listed: list[tuple[str, Listed, UpstreamRoute]]) -> dict[str, Any]:
    entries = []
    for name, model, _route in listed:
        entry = dict(model.gemini or {"supportedGenerationMethods": GEMINI_METHODS})
        entry["name"] = f"models/{name}"
        entry["displayName"] = model.display_name or name
        entries.append(entry)
    return {"models": entries}


def rfc3339(created: int | None) -> str:
    moment = datetime.fromtimestamp(created or 0, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


SHAPES = {"openai": openai_list, "anthropic": anthropic_list, "gemini": gemini_list}
