"""The Anthropic wire format: messages, count_tokens, batches, models.

Errors, the injected credential, and where usage is reported (JSON bodies and streams).
"""

from __future__ import annotations

import json
from typing import Any

from proxy.sse import Event
from proxy.usage import Observer, count, load, observer
from requestlog.usage import Usage
from routing.families import Family

NAME = Family.ANTHROPIC

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(status: int, message: str, code: str) -> bytes:
    body = {"type": "error", "error": {"type": error_type(status), "message": message}}
    return json.dumps(body).encode()


def stream_error(status: int, message: str, code: str) -> bytes:
    return b"event: error\ndata: " + error_body(status, message, code) + b"\n\n"


def credential_header(key: str) -> tuple[str, str]:
    return "x-api-key", key


def usage_of(data: Any) -> Usage | None:
    """Billed usage from an Anthropic usage object; `input_tokens` already excludes the cache."""
    if not isinstance(data, dict):
        return None
    return Usage(
        input_tokens=count(data, "input_tokens"),
        output_tokens=count(data, "output_tokens"),
        cache_read_tokens=count(data, "cache_read_input_tokens"),
        cache_write_tokens=count(data, "cache_creation_input_tokens"),
    )


def usage_from_json(body: bytes) -> Usage | None:
    data = load(body)
    return usage_of(data.get("usage")) if isinstance(data, dict) else None


def read_event(event: Event, usage: Usage | None) -> Usage | None:
    """`message_start` carries the input side; each `message_delta` carries cumulative counts."""
    if '"usage"' not in event.data:
        return usage
    data = load(event.data)
    if not isinstance(data, dict):
        return usage
    kind = data.get("type")
    if kind == "message_start" and isinstance(data.get("message"), dict):
        return usage_of(data["message"].get("usage")) or usage
    if kind == "message_delta":
        return _updated(usage, data.get("usage"))
    return usage


def _updated(usage: Usage | None, delta: Any) -> Usage | None:
    """The usage so far with every count the delta reports replaced (they are running totals)."""
    if not isinstance(delta, dict):
        return usage
    current = usage or Usage()

    def pick(key: str, previous: int) -> int:
        return previous if delta.get(key) is None else count(delta, key)

    return Usage(
        input_tokens=pick("input_tokens", current.input_tokens),
        output_tokens=pick("output_tokens", current.output_tokens),
        cache_read_tokens=pick("cache_read_input_tokens", current.cache_read_tokens),
        cache_write_tokens=pick("cache_creation_input_tokens", current.cache_write_tokens),
    )


def read_member(key: str | None, raw: bytes, usage: Usage | None) -> Usage | None:
    return usage_of(load(raw)) or usage


def stream_observer(content_type: str, hide_usage_chunk: bool = False) -> Observer:
    """The usage observer for a response body; Anthropic reports usage unasked."""
    return observer(
        content_type,
        read_event=read_event,
        read_member=read_member,
        keys=("usage",),
        final=is_final_event,
    )


def is_final_event(event: Event) -> bool:
    # An upstream's own error event ends its stream too; the gateway adds none after it.
    return event.name in ("message_stop", "error")
