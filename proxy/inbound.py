"""The inbound side of one request: what the client sent, read once from the ASGI scope, and the
model and stream flag found in its body or path (SPEC §1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote

from django.http import HttpRequest

from proxy import jsonbody, jsondepth, wire
from proxy.errors import GatewayError
from proxy.wire import gemini, openai

# Set in the ASGI scope by the handler when it stopped reading a body over the size limit.
OVERSIZED = "headroom.oversized"


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


def read_request(request: HttpRequest, surface: Surface) -> Inbound:
    # Under ASGI the raw scope keeps duplicate headers and the path's percent-encoding intact.
    scope = getattr(request, "scope", None) or {}
    raw_headers = list(scope.get("headers") or _headers_from_meta(request))
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
    query = request.META.get("QUERY_STRING", "")
    raw_path = scope.get("raw_path") or quote(request.path, safe="/:@").encode()
    family = surface.family or wire.family_from_headers(headers, query)
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


class BodyMembers(NamedTuple):
    """What routing reads of a body: whether it is JSON, and the members it needs when it is an
    object. Small, so a worker process can hand it back for a large body."""

    valid: bool
    members: dict[str, Any] | None = None
    too_deep: bool = False  # nested past the limit, so not parsed at all


# The top-level members the gateway reads to route a request and to ask for stream usage.
ROUTING_MEMBERS = ("model", "stream", "stream_options")


def read_members(body: bytes, depth_limit: int = 0) -> BodyMembers:
    """Parse the body once and keep only the routing members; with `depth_limit`, a body nested
    deeper is not parsed (`admit` checks the depth of a body read on the event loop)."""
    if depth_limit and jsondepth.too_deep(body, depth_limit):
        return BodyMembers(valid=False, too_deep=True)
    try:
        data = jsonbody.parse_object(body)
    except ValueError:
        return BodyMembers(valid=False)
    if data is None:
        return BodyMembers(valid=True)
    return BodyMembers(True, {key: data[key] for key in ROUTING_MEMBERS if key in data})


def parse_model(inbound: Inbound, surface: Surface, read: BodyMembers | None = None) -> None:
    """Find the model (body or path) and the stream flag; 400 for bodies we cannot route.

    `read` is the body already read elsewhere (a worker process, for a large body); without it
    the body is parsed here.
    """
    if surface.model_in == "path":
        parse_model_path(inbound, read)
        return
    required = surface.model_required and inbound.method == "POST"
    if surface.model_in != "body" or not (inbound.body or required):
        return
    read = read or read_members(inbound.body)
    if not read.valid:
        if required:
            raise GatewayError(400, "request body is not valid JSON", "invalid_json")
        return
    data = read.members
    model = data.get("model") if data else None
    if isinstance(model, str) and model.strip():
        inbound.model = model
    elif required:
        raise GatewayError(400, "model is required", "model_required")
    inbound.stream = bool(data and data.get("stream") is True)
    if data and inbound.stream:
        ask_for_usage(inbound, data)


def parse_model_path(inbound: Inbound, read: BodyMembers | None = None) -> None:
    parts = gemini.split_model_path(inbound.path)
    inbound.model = parts[1] if parts else ""
    inbound.stream = inbound.path.endswith(":streamGenerateContent")
    if not gemini.names_model_method(inbound.path):
        return
    if not inbound.model:
        raise GatewayError(400, "model is required", "model_required")
    if inbound.method == "POST" and inbound.body and not (read or read_members(inbound.body)).valid:
        raise GatewayError(400, "request body is not valid JSON", "invalid_json")


def ask_for_usage(inbound: Inbound, data: dict[str, Any]) -> None:
    """Openai chat/completions streams report usage only when asked; the gateway asks."""
    body = openai.ask_for_usage(inbound.path, data, inbound.body)
    if body is not None:
        inbound.body, inbound.hide_usage_chunk = body, True
