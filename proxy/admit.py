"""Admission: the checks a request passes before anything is resolved or sent, each answered in
the caller's wire format: host, body size and path, header count and size, JSON nesting depth,
model name length, and the caller's gateway key and its limits. Each runs before the part it
guards is used.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest

from keys import admission
from keys.errors import Refused
from keys.table import KeyRecord
from proxy import credentials, jsondepth
from proxy.errors import GatewayError
from proxy.exchange import Exchange
from proxy.inbound import Inbound
from routing import baseurl, lending
from routing.resolver import Resolution


def check_host(request: HttpRequest) -> None:
    """ALLOWED_HOSTS holds on the gateway surfaces as on every page: a web page that points a DNS
    name of its own at the gateway (DNS rebinding) cannot use the keys the gateway injects."""
    try:
        request.get_host()
    except DisallowedHost:
        raise GatewayError(
            400, "the Host header names a host this gateway does not serve", "disallowed_host"
        ) from None


def check_request(inbound: Inbound, depth: bool = True) -> None:
    """Size, path, headers and body shape, before the body is parsed (deep JSON would exhaust
    the parser's stack). `depth` False leaves the depth to whoever parses the body (a worker
    process, for a large one)."""
    check_size_and_path(inbound)
    check_headers(inbound.raw_headers)
    if depth:
        check_json_depth(inbound.body)


def check_size_and_path(inbound: Inbound) -> None:
    """Size and path limits that hold on every surface."""
    if inbound.oversized or len(inbound.body) > settings.HEADROOM_MAX_BODY_BYTES:
        limit = settings.HEADROOM_MAX_BODY_BYTES
        raise GatewayError(413, f"request body is larger than {limit} bytes", "request_too_large")
    # The client's path is appended to the upstream base, and `..` would climb out of a
    # route's or an allowed entry's path prefix once the URL is normalized.
    if "\\" in inbound.path or baseurl.has_dot_segment(inbound.path):
        raise GatewayError(
            400, "the request path must not contain '.' or '..' segments", "bad_path"
        )


def check_headers(raw_headers: list[tuple[bytes, bytes]]) -> None:
    most = settings.HEADROOM_MAX_HEADERS
    if len(raw_headers) > most:
        raise GatewayError(431, f"the request has more than {most} headers", "too_many_headers")
    largest = settings.HEADROOM_MAX_HEADER_BYTES
    if sum(len(name) + len(value) for name, value in raw_headers) > largest:
        raise GatewayError(
            431, f"the request headers are larger than {largest} bytes", "headers_too_large"
        )


def check_json_depth(body: bytes) -> None:
    if jsondepth.too_deep(body, settings.HEADROOM_MAX_JSON_DEPTH):
        raise json_too_deep()


def json_too_deep() -> GatewayError:
    limit = settings.HEADROOM_MAX_JSON_DEPTH
    return GatewayError(400, f"the JSON body is nested deeper than {limit} levels", "json_too_deep")


def check_model(inbound: Inbound) -> None:
    longest = settings.HEADROOM_MAX_MODEL_LENGTH
    if len(inbound.model) > longest:
        raise GatewayError(
            400, f"the model name is longer than {longest} characters", "model_too_long"
        )


async def identify(inbound: Inbound, exchange: Exchange) -> KeyRecord | None:
    """Name the calling team on the exchange, or refuse the request (401) before any upstream
    contact; the key's limits come later (`enforce_limits`)."""
    secret = credentials.gateway_key(inbound.headers, inbound.query)
    with refused_in_wire_format(exchange):
        key = await admission.identify(secret)
    if key is not None:
        exchange.team, exchange.gateway_key_id = key.team, key.id
    return key


async def enforce_limits(key: KeyRecord | None, exchange: Exchange) -> None:
    """Count the request against its key's rate and budget (429 when over either); called once
    the request is known to be sendable, so a refused request never uses up the caller's rate."""
    with refused_in_wire_format(exchange):
        await admission.enforce(key)


@contextmanager
def refused_in_wire_format(exchange: Exchange) -> Iterator[None]:
    try:
        yield
    except Refused as refusal:
        if refusal.key is not None:
            exchange.team, exchange.gateway_key_id = refusal.key.team, refusal.key.id
        raise GatewayError(
            refusal.status, refusal.message, refusal.code, headers=refusal.headers
        ) from None


def check_lending(inbound: Inbound, resolution: Resolution) -> None:
    """An `env:` route lends its key only to the paths and methods it allows (by default the
    model surfaces): anything else is refused with 403 before it is built."""
    route = resolution.route
    if route is None or not resolution.auth.startswith("env:") or resolution.auth != route.auth:
        return
    rule = lending.lending(route.allowed_paths, route.allowed_methods)
    if not rule.allows(inbound.method, inbound.path):
        raise GatewayError(
            403,
            f"this route does not lend its key to {inbound.method} on this path",
            "path_not_allowed",
        )


async def check_metrics_access(request: HttpRequest) -> None:
    """/metrics holds to ALLOWED_HOSTS, and needs HEADROOM_METRICS_TOKEN or a valid gateway key
    once either keys are required or a token is set (figures name routes, models and teams)."""
    check_host(request)
    token = settings.HEADROOM_METRICS_TOKEN
    if not token and not settings.HEADROOM_REQUIRE_KEY:
        return
    headers = {name.lower(): value for name, value in request.headers.items()}
    presented = credentials.bare_value("authorization", headers.get("authorization", ""))
    presented = headers.get(credentials.GATEWAY_KEY_HEADER, "").strip() or presented
    if token and presented and hmac.compare_digest(presented.encode(), token.encode()):
        return
    if presented:
        try:
            await admission.recognize(presented)
            return
        except Refused:
            pass
    raise GatewayError(401, "the metrics need a metrics token or a gateway key", "unauthorized")
