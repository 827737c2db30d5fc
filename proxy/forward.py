"""The forward side of one request: the route it resolves to and the upstream request built
with its credentials and model (`proxy.attempts` sends it, retrying and falling back)."""

from __future__ import annotations

from urllib.parse import quote, unquote

import httpx

from proxy import credentials, egress, jsonbody, upstream
from proxy.errors import GatewayError
from proxy.exchange import Exchange
from proxy.inbound import Inbound
from proxy.wire import gemini
from routing import table
from routing.families import Family, default_targets
from routing.resolver import Resolution, ResolutionError, parse_override, resolve


async def resolve_request(inbound: Inbound) -> Resolution:
    routes = await table.current()
    try:
        override = parse_override(
            inbound.headers.get("x-headroom-base-url"), inbound.headers.get("x-headroom-upstream")
        )
        return resolve(
            model=inbound.model,
            family=inbound.family,
            routes=routes.routes,
            allowed=routes.allowed,
            override=override,
            defaults=default_targets(),
        )
    except ResolutionError as exc:
        code = "override_refused" if exc.status == 403 else "invalid_override"
        raise GatewayError(exc.status, exc.message, code) from None


def describe_route(exchange: Exchange, resolution: Resolution) -> None:
    exchange.model_forwarded = resolution.model
    exchange.route_id = resolution.route.pk if resolution.route else None
    exchange.route_label = resolution.label
    exchange.upstream_host = resolution.upstream.netloc
    exchange.override = resolution.override


def build_upstream_request(inbound: Inbound, resolution: Resolution) -> httpx.Request:
    headers, query = credentials.prepare(
        inbound.raw_headers,
        inbound.headers,
        inbound.query,
        auth=resolution.auth,
        protocol=resolution.protocol,
        account_headers=resolution.route is not None and resolution.route.forward_account_headers,
    )
    path, body = rewrite_model(inbound, resolution.model)
    url = resolution.upstream.url + path + (f"?{query}" if query else "")
    route = resolution.route
    limits = upstream.timeout(
        route.connect_timeout if route else None, route.read_timeout if route else None
    )
    return upstream.build_request(inbound.method, url, headers, body, limits)


def rewrite_model(inbound: Inbound, model: str) -> tuple[str, bytes]:
    """Path and body with the forwarded model in place; untouched when the model is unchanged."""
    if model == inbound.model:
        return inbound.path, inbound.body
    parts = gemini.split_model_path(inbound.path)
    if parts is not None and inbound.family == Family.GEMINI:
        head, _, tail = parts
        segment = inbound.path[len(head) : len(inbound.path) - len(tail)]
        return head + raw_suffix(segment, model) + tail, inbound.body
    return inbound.path, jsonbody.replace_top_level_string(inbound.body, "model", model)


def raw_suffix(raw: str, model: str) -> str:
    """The end of a path segment, percent-encoding as sent, that decodes to `model` (the segment
    with a route's prefix stripped); `model` freshly encoded if none does."""
    for start in range(len(raw)):
        if unquote(raw[start:]) == model:
            return raw[start:]
    return quote(model, safe=":@")


async def check_egress(outgoing: httpx.Request, resolution: Resolution) -> httpx.Request:
    """The request pinned to checked addresses when the client chose the target; 403 if any
    address is refused (SPEC §3). Unchanged for routes and allowed IP literals."""
    if resolution.check_addresses:
        return await egress.pin(outgoing, resolution)
    return outgoing
