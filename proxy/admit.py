"""Admission: the checks a request passes before anything is resolved or sent, each answered in
the caller's wire format: host, body size and path, header count and size, JSON nesting depth,
model name length, and the caller's gateway key and its limits. Each runs before the part it
guards is used.
"""

from __future__ import annotations

import hmac
import json
import operator
import re
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import accumulate

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest

from keys import admission
from keys.errors import Refused
from keys.table import KeyRecord
from proxy import credentials
from proxy.errors import GatewayError
from proxy.exchange import Exchange
from proxy.inbound import Inbound
from routing import baseurl, lending
from routing.resolver import Resolution

# After escapes are gone, a JSON string runs from a quote to the next one (or to the end of a body
# that never closes it).
_STRING = re.compile(rb'"[^"]*(?:"|\Z)')
_JSON_CONTAINER = re.compile(rb"\s*[\[{]")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
# Depth does not depend on the kind of bracket, so objects are counted as arrays.
_ONE_KIND = bytes.maketrans(b"{}", b"[]")
_RUNS = re.compile(rb"\[+|\]+")
# Innermost pairs removed before the depth is summed; each pass lowers the depth by exactly one.
_PRUNING_PASSES = 3
# First bytes of a UTF-8 JSON body without a BOM: no re-encoding needed before the checks.
_PLAIN_START = frozenset(b'{["tfn-0123456789 \t\r\n')


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
    """Size, path, headers and body shape, before the body is parsed (deep JSON would exhaust
    the parser's stack)."""
    check_size_and_path(inbound)
    check_headers(inbound.raw_headers)
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
    limit = settings.HEADROOM_MAX_JSON_DEPTH
    if json_deeper_than(as_utf8(body), limit):
        raise GatewayError(
            400, f"the JSON body is nested deeper than {limit} levels", "json_too_deep"
        )


def as_utf8(body: bytes) -> bytes:
    """The body as UTF-8 for the checks: JSON parsers also read a BOM, UTF-16 and UTF-32
    (RFC 8259 §8.1 allows them in), which would otherwise pass the depth check unread.
    A body that starts the plain way costs one byte comparison."""
    if not body or body[0] in _PLAIN_START:
        return body
    encoding = json.detect_encoding(body)
    if encoding == "utf-8":
        return body
    return body.decode(encoding, errors="replace").encode("utf-8")


def json_deeper_than(body: bytes, limit: int) -> bool:
    """Whether a JSON body nests objects and arrays more than `limit` deep.

    Every step runs in C or once per run of brackets, so a hostile body costs about what
    parsing it would; a body that is not JSON, or is malformed, is left to the parser.
    """
    if not _JSON_CONTAINER.match(body) or not more_openers_than(body, limit):
        return False
    brackets = structure(body)
    if brackets.count(b"[") <= limit:
        return False
    # Removing the innermost pairs lowers the deepest branch by exactly one level, and leaves far
    # fewer runs of brackets to add up below; a long run of openers settles it early.
    done = 0
    while brackets and done < _PRUNING_PASSES:
        if b"[" * (limit + 1 - done) in brackets:
            return True
        brackets = brackets.replace(b"[]", b"")
        done += 1
    return max_depth(brackets) + done > limit


def more_openers_than(body: bytes, limit: int) -> bool:
    """Whether `body` holds more than `limit` of `[` and `{` together: one memchr step per
    opener up to limit + 1, so a large body with a few brackets is not scanned byte by byte."""
    found = 0
    for opener in (b"[", b"{"):
        index = body.find(opener)
        while index >= 0:
            found += 1
            if found > limit:
                return True
            index = body.find(opener, index + 1)
    return False


def max_depth(brackets: bytes) -> int:
    """The deepest nesting of a string of `[` and `]`, summed run by run."""
    runs = list(map(len, _RUNS.findall(brackets)))
    if brackets.startswith(b"]"):
        runs.insert(0, 0)
    # Runs alternate openers and closers: openers add depth, closers take it away.
    runs[1::2] = map(operator.neg, runs[1::2])
    return max(accumulate(runs), default=0)


def structure(body: bytes) -> bytes:
    """The body's brackets outside strings, all written as `[` and `]`."""
    # Escaped backslashes first, so that in `\\"` the quote still ends its string.
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in body else body
    text = text.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in text:
        text = _STRING.sub(b"", text)
    return text.translate(_ONE_KIND)


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
