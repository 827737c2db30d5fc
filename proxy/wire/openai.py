"""The OpenAI wire format: chat/completions, completions, responses, embeddings, models.

Errors, the injected credential, and where usage is reported (JSON bodies and streams).
"""

from __future__ import annotations

import json
from typing import Any

from proxy import jsonbody
from proxy.sse import Event
from proxy.usage import Observer, count, load, observer
from requestlog.usage import Usage
from routing.families import Family

NAME = Family.OPENAI

_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}


def error_type(status: int) -> str:
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(status: int, message: str, code: str) -> bytes:
    body = {"error": {"message": message, "type": error_type(status), "param": None, "code": code}}
    return json.dumps(body).encode()


def stream_error(status: int, message: str, code: str) -> bytes:
    return b"data: " + error_body(status, message, code) + b"\n\n"


def credential_header(key: str) -> tuple[str, str]:
    return "authorization", f"Bearer {key}"


# Streams that report usage only when asked to (SPEC §7); the gateway asks.
USAGE_STREAM_PATHS = frozenset({"/v1/chat/completions", "/v1/completions"})
_INCLUDE_USAGE = b'{"include_usage":true}'


def usage_of(data: Any) -> Usage | None:
    """Billed usage from an OpenAI usage object.

    Chat, completions and embeddings report `prompt_tokens` (cached tokens included, detailed in
    `prompt_tokens_details.cached_tokens`; DeepSeek-style upstreams say
    `prompt_cache_hit_tokens`); the Responses API reports `input_tokens` the same way.
    """
    if not isinstance(data, dict):
        return None
    if "input_tokens" in data:
        prompt = count(data, "input_tokens")
        cached = count(data.get("input_tokens_details"), "cached_tokens")
        output = count(data, "output_tokens")
    else:
        prompt = count(data, "prompt_tokens")
        cached = count(data.get("prompt_tokens_details"), "cached_tokens") or count(
            data, "prompt_cache_hit_tokens"
        )
        output = count(data, "completion_tokens")
    cached = min(cached, prompt)
    return Usage(input_tokens=prompt - cached, output_tokens=output, cache_read_tokens=cached)


def usage_from_json(body: bytes) -> Usage | None:
    data = load(body)
    return usage_of(data.get("usage")) if isinstance(data, dict) else None


def read_event(event: Event, usage: Usage | None) -> Usage | None:
    """Chat/completions: the chunk whose `usage` is set; Responses: `response.completed` (or
    `response.incomplete` / `response.failed`), whose `response.usage` is set."""
    # Only events that can carry counts are parsed; every other chunk costs one substring test.
    if "prompt_tokens" not in event.data and "input_tokens" not in event.data:
        return usage
    data = load(event.data)
    if not isinstance(data, dict):
        return usage
    response = data.get("response")
    found = usage_of(data.get("usage"))
    if found is None and isinstance(response, dict):
        found = usage_of(response.get("usage"))
    return found or usage


def read_member(key: str | None, raw: bytes, usage: Usage | None) -> Usage | None:
    return usage_of(load(raw)) or usage


def is_usage_chunk(event: Event) -> bool:
    """The usage-only chunk `include_usage` adds: usage set, no choices."""
    if "prompt_tokens" not in event.data:
        return False
    data = load(event.data)
    return (
        isinstance(data, dict) and isinstance(data.get("usage"), dict) and not data.get("choices")
    )


def ask_for_usage(path: str, data: dict[str, Any], body: bytes) -> bytes | None:
    """The request body with `stream_options.include_usage` set to true, for a chat/completions
    stream that would not report usage otherwise; None when the body needs no change."""
    if path not in USAGE_STREAM_PATHS or data.get("stream") is not True:
        return None
    if "stream_options" not in data:
        return jsonbody.append_member(body, "stream_options", _INCLUDE_USAGE)
    options = data["stream_options"]
    if options is None:
        return jsonbody.set_member(body, ["stream_options"], _INCLUDE_USAGE)
    if isinstance(options, dict) and options.get("include_usage") is not True:
        return jsonbody.set_member(body, ["stream_options", "include_usage"], b"true")
    # Usage already asked for, or stream_options is malformed and the upstream will say so.
    return None


def stream_observer(content_type: str, hide_usage_chunk: bool = False) -> Observer:
    """The usage observer for a response body; it hides the usage chunk the gateway asked for."""
    return observer(
        content_type,
        read_event=read_event,
        read_member=read_member,
        keys=("usage",),
        drop=is_usage_chunk if hide_usage_chunk else None,
        final=is_final_event,
    )


# Responses streams end with one of these; chat/completions streams with `data: [DONE]`. An
# upstream's own error ends its stream too; the gateway adds none after it.
_FINAL_RESPONSE_EVENTS = frozenset(
    {"response.completed", "response.incomplete", "response.failed", "error"}
)


def is_final_event(event: Event) -> bool:
    return (
        event.data == "[DONE]"
        or event.name in _FINAL_RESPONSE_EVENTS
        or event.data.startswith('{"error"')
    )
