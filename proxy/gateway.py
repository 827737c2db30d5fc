"""One proxied request, start to finish: parse → resolve → forward → respond.

Views hand a request and its surface to `handle`; everything here is plain functions over the
Django request so tests can drive each step.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import traceback
from dataclasses import dataclass
from urllib.parse import quote, unquote

import httpx
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from proxy import (
    credentials,
    egress,
    hardening,
    jsonbody,
    keys,
    modellist,
    protocols,
    responsecache,
    savings,
    upstream,
)
from proxy.errors import GatewayError, error_response, from_httpx
from proxy.exchange import Exchange
from proxy.protocols import gemini, openai
from proxy.relay import Relay
from proxy.responsecache import Slot
from routing import table
from routing.resolver import Resolution, ResolutionError, parse_override, resolve

# Bodies up to this size, with a declared length, are read whole and answered with a
# Content-Length; anything else (SSE, chunked, large downloads) is relayed as it arrives.
BUFFER_LIMIT = 1024 * 1024
# Set in the ASGI scope by the handler when it stopped reading a body over the size limit.
OVERSIZED = "headroom.oversized"
_DOT_SEGMENT = re.compile(r"(?:^|/)(?:\.|%2e){1,2}(?:/|$)", re.IGNORECASE)


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Surface:
    family: str | None  # None: decided from the headers (SPEC §1)
    model_in: str  # "body", "path" or "none"
    model_required: bool = False


@dataclass
class Inbound:
    family: str
    method: str
    path: str  # as sent, percent-encoding intact
    query: str
    body: bytes
    headers: dict[str, str]
    raw_headers: list[tuple[bytes, bytes]]
    model: str = ""
    stream: bool = False
    oversized: bool = False  # the handler stopped reading the body at the size limit
    # The gateway asked for stream usage the client did not (SPEC §7): hide that chunk.
    hide_usage_chunk: bool = False


async def handle(request: HttpRequest, surface: Surface) -> HttpResponse:
    inbound = read_request(request, surface)
    exchange = Exchange(family=inbound.family, endpoint=request.path, method=request.method or "")
    handed_off = False
    try:
        check_host(request)
        check_request(inbound)
        hardening.check_request(inbound)
        parse_model(inbound, surface)
        hardening.check_model(inbound)
        exchange.model, exchange.stream = inbound.model, inbound.stream
        key = await keys.identify(inbound, exchange)
        if modellist.answers(inbound, exchange):
            await keys.admit(key)
            listed = await modellist.respond(inbound, exchange, default_targets())
            return with_gateway_headers(listed, exchange)
        resolution = await resolve_request(inbound)
        describe_route(exchange, resolution)
        # A request refused for a missing provider key is not counted against the key's rate.
        credentials.require(inbound.headers, inbound.query, resolution.auth, resolution.protocol)
        await keys.admit(key)
        savings.apply(inbound, resolution.route, exchange)
        slot = await responsecache.open_slot(inbound, resolution.route, exchange)
        if slot is not None and slot.entry is not None:
            return with_gateway_headers(responsecache.replay(slot.entry, exchange), exchange)
        outgoing = build_upstream_request(inbound, resolution)
        if resolution.check_addresses:
            outgoing = await egress.pin(outgoing, resolution)
        exchange.upstream_started = exchange.upstream_started or time.perf_counter()
        try:
            reply = await upstream.send(outgoing)
        except httpx.HTTPError as exc:
            raise from_httpx(exc) from None
        response = await respond(reply, inbound, exchange, slot)
        handed_off = response.streaming
        return response
    except GatewayError as error:
        exchange.fail(error)
        return with_gateway_headers(error_response(inbound.family, error), exchange)
    except asyncio.CancelledError:
        exchange.disconnected = True
        raise
    except Exception as exc:
        # A bug, not a client's mistake: a 500 in the caller's format and a row that says so.
        # The exception's message may quote request data, so only its type and frames are logged.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        logger.error("request %s failed: %s\n%s", exchange.request_id, type(exc).__name__, frames)
        error = GatewayError(500, "the gateway failed to handle the request", "internal_error")
        exchange.fail(error)
        return with_gateway_headers(error_response(inbound.family, error), exchange)
    finally:
        if not handed_off:
            exchange.finish()


def read_request(request: HttpRequest, surface: Surface) -> Inbound:
    # Under ASGI the raw scope keeps duplicate headers and the path's percent-encoding intact.
    scope = getattr(request, "scope", None) or {}
    raw_headers = list(scope.get("headers") or _headers_from_meta(request))
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
    query = request.META.get("QUERY_STRING", "")
    raw_path = scope.get("raw_path") or quote(request.path, safe="/:@").encode()
    family = surface.family or protocols.family_from_headers(headers, query)
    return Inbound(
        family=family,
        method=request.method or "GET",
        path=raw_path.decode("latin-1").split("?", 1)[0],
        query=query,
        body=request.body,
        headers=headers,
        raw_headers=raw_headers,
        oversized=bool(scope.get(OVERSIZED)),
    )


def _headers_from_meta(request: HttpRequest) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()]


def check_host(request: HttpRequest) -> None:
    """ALLOWED_HOSTS holds on the gateway surfaces as on every page: a web page that points a DNS
    name of its own at the gateway (DNS rebinding) cannot use the keys the gateway injects."""
    try:
        request.get_host()
    except DisallowedHost:
        raise GatewayError(
            400, "the Host header names a host this gateway does not serve", "disallowed_host"
        ) from None


def check_request(inbound: Inbound) -> None:
    """Size and path limits that hold on every surface."""
    if inbound.oversized or len(inbound.body) > settings.HEADROOM_MAX_BODY_BYTES:
        limit = settings.HEADROOM_MAX_BODY_BYTES
        raise GatewayError(413, f"request body is larger than {limit} bytes", "request_too_large")
    # The client's path is appended to the upstream base, and `..` would climb out of a
    # route's or an allowed entry's path prefix once the URL is normalized.
    if _DOT_SEGMENT.search(inbound.path) or "\\" in inbound.path:
        raise GatewayError(
            400, "the request path must not contain '.' or '..' segments", "bad_path"
        )


def parse_model(inbound: Inbound, surface: Surface) -> None:
    """Find the model (body or path) and the stream flag; 400 for bodies we cannot route."""
    if surface.model_in == "path":
        parts = gemini.split_model_path(inbound.path)
        inbound.model = parts[1] if parts else ""
        inbound.stream = inbound.path.endswith(":streamGenerateContent")
        if gemini.names_model_method(inbound.path):
            if not inbound.model:
                raise GatewayError(400, "model is required", "model_required")
            if inbound.method == "POST" and inbound.body and not _is_json(inbound.body):
                raise GatewayError(400, "request body is not valid JSON", "invalid_json")
        return
    required = surface.model_required and inbound.method == "POST"
    if surface.model_in != "body" or not (inbound.body or required):
        return
    try:
        data = jsonbody.parse_object(inbound.body)
    except ValueError:
        if required:
            raise GatewayError(400, "request body is not valid JSON", "invalid_json") from None
        return
    model = data.get("model") if data else None
    if isinstance(model, str) and model.strip():
        inbound.model = model
    elif required:
        raise GatewayError(400, "model is required", "model_required")
    inbound.stream = bool(data and data.get("stream") is True)
    if data and inbound.stream:
        ask_for_usage(inbound, data)


def ask_for_usage(inbound: Inbound, data: dict) -> None:
    """Openai chat/completions streams report usage only when asked; the gateway asks."""
    body = openai.ask_for_usage(inbound.path, data, inbound.body)
    if body is not None:
        inbound.body, inbound.hide_usage_chunk = body, True


def _is_json(body: bytes) -> bool:
    try:
        jsonbody.parse_object(body)
    except ValueError:
        return False
    return True


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


def default_targets() -> dict[str, str]:
    return {
        "openai": settings.OPENAI_TARGET_API_URL,
        "anthropic": settings.ANTHROPIC_TARGET_API_URL,
        "gemini": settings.GEMINI_TARGET_API_URL,
    }


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
    if parts is not None and inbound.family == "gemini":
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


async def respond(
    reply: httpx.Response, inbound: Inbound, exchange: Exchange, slot: Slot | None = None
) -> HttpResponse:
    exchange.status = reply.status_code
    if should_buffer(reply):
        try:
            body = await reply.aread()
        except httpx.HTTPError as exc:
            raise from_httpx(exc) from None
        finally:
            await reply.aclose()
        exchange.upstream_done = exchange.first_byte = time.perf_counter()
        if reply.is_success:
            exchange.usage = protocols.get(inbound.family).usage_from_json(body)
        if slot is not None:
            await slot.store(reply, body, exchange.usage, streamed=False)
        response = HttpResponse(body, status=reply.status_code, reason=reply.reason_phrase)
        # A HEAD answer has no body but tells the length a GET would have: relay that.
        head_length = reply.headers.get("content-length") if inbound.method == "HEAD" else None
        response["content-length"] = head_length or str(len(body))
    else:
        recorder = slot.recorder(reply) if slot is not None else None
        relay = Relay(reply, exchange, inbound.family, inbound.hide_usage_chunk, recorder)
        response = StreamingHttpResponse(
            relay, status=reply.status_code, reason=reply.reason_phrase
        )
    copy_headers(reply, response)
    if response.streaming:
        response["cache-control"] = "no-cache"
        response["x-accel-buffering"] = "no"
    return with_gateway_headers(response, exchange)


def should_buffer(reply: httpx.Response) -> bool:
    length = reply.headers.get("content-length", "")
    content_type = reply.headers.get("content-type", "")
    return (
        length.isdigit()
        and int(length) <= BUFFER_LIMIT
        and not content_type.startswith("text/event-stream")
    )


def copy_headers(reply: httpx.Response, response: HttpResponse) -> None:
    if "content-type" not in reply.headers:
        del response["content-type"]
    merged: dict[str, str] = {}
    for name, value in upstream.inbound_headers(reply):
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    for name, value in merged.items():
        response[name] = value


def with_gateway_headers(response: HttpResponse, exchange: Exchange) -> HttpResponse:
    response["x-headroom-request-id"] = exchange.request_id
    if exchange.route_label:
        response["x-headroom-route"] = exchange.route_label
    for name, value in savings.headers(exchange).items():
        response[name] = value
    if exchange.cache_status:
        response["x-headroom-cache"] = exchange.cache_status
    return response
