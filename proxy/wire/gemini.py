"""The Gemini v1beta wire format: generateContent, streamGenerateContent, countTokens.

Errors, the injected credential, the model in the path, and where usage is reported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, unquote_plus

from proxy.sse import Event
from proxy.usage import Observer, count, load, observer
from requestlog.usage import Usage
from routing.families import Family

NAME = Family.GEMINI

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# Gemini's API answers on both versions; google-genai calls /v1 by default.
_MODEL_PREFIXES = ("/v1beta/models/", "/v1/models/")


def error_type(status: int) -> str:
    return _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")


def error_body(status: int, message: str, code: str) -> bytes:
    body = {"error": {"code": status, "message": message, "status": error_type(status)}}
    return json.dumps(body).encode()


def stream_error(status: int, message: str, code: str) -> bytes:
    return b"data: " + error_body(status, message, code) + b"\n\n"


def credential_header(key: str) -> tuple[str, str]:
    return "x-goog-api-key", key


def split_model_path(raw_path: str) -> tuple[str, str, str] | None:
    """`/v1beta/models/{model}:method` (or /v1/…) → (head, model, tail), together the path.

    The model is everything between `models/` and the last `:`, so ids that contain `:` or `/`
    survive; it is returned percent-decoded, while head and tail stay as sent.
    """
    prefix = _model_prefix(raw_path)
    if prefix is None:
        return None
    rest = raw_path[len(prefix) :]
    model, colon, method = rest.rpartition(":")
    if not colon or not method.isalpha():
        model, method = rest, ""
    if not model:
        return None
    tail = raw_path[len(prefix) + len(model) :]
    return prefix, unquote(model), tail


def names_model_method(raw_path: str) -> bool:
    """`/v1beta/models/{model}:method`, whether or not a model is actually named."""
    prefix = _model_prefix(raw_path)
    if prefix is None:
        return False
    method = raw_path.rpartition(":")[2]
    return ":" in raw_path[len(prefix) :] and method.isalpha()


def _model_prefix(raw_path: str) -> str | None:
    return next((p for p in _MODEL_PREFIXES if raw_path.startswith(p)), None)


def query_key(query: str) -> str | None:
    """The value of a `key=` query parameter, the Gemini way of sending the API key."""
    for item in query.split("&"):
        name, _, value = item.partition("=")
        if _is_key_name(name):
            return _decoded(value)
    return None


def drop_query_key(query: str, only: Callable[[str], bool] | None = None) -> str:
    """The query without its `key=` parameters (or only those whose value `only` accepts);
    every other byte as sent."""
    items = query.split("&")
    kept = [item for item in items if not _is_key_item(item, only)]
    return query if len(kept) == len(items) else "&".join(kept)


def _is_key_item(item: str, only: Callable[[str], bool] | None) -> bool:
    name, _, value = item.partition("=")
    return _is_key_name(name) and (only is None or only(_decoded(value)))


def _is_key_name(name: str) -> bool:
    """`key`, however it is spelled: upstreams decode `%6Bey` (or `k%65y`) to the same name."""
    return name == "key" or ("%" in name and unquote_plus(name) == "key")


def _decoded(value: str) -> str:
    return unquote_plus(value) if "%" in value or "+" in value else value


def usage_of(metadata: Any) -> Usage | None:
    """Billed usage from `usageMetadata`.

    `promptTokenCount` includes the cached content (`cachedContentTokenCount`), which is billed
    at the cache rate; tool-use prompt tokens are input too. Thinking tokens are output.
    """
    if not isinstance(metadata, dict):
        return None
    prompt = count(metadata, "promptTokenCount") + count(metadata, "toolUsePromptTokenCount")
    cached = min(count(metadata, "cachedContentTokenCount"), prompt)
    return Usage(
        input_tokens=prompt - cached,
        output_tokens=count(metadata, "candidatesTokenCount")
        + count(metadata, "thoughtsTokenCount"),
        cache_read_tokens=cached,
    )


def usage_from_json(body: bytes) -> Usage | None:
    """A generateContent body, or a whole `streamGenerateContent` array (the last report wins)."""
    data = load(body)
    items = data if isinstance(data, list) else [data]
    usage = None
    for item in items:
        if isinstance(item, dict):
            usage = usage_of(item.get("usageMetadata")) or usage
    return usage


def read_event(event: Event, usage: Usage | None) -> Usage | None:
    """Every `?alt=sse` chunk may carry `usageMetadata`, each a running total: the last wins."""
    if "usageMetadata" not in event.data:
        return usage
    data = load(event.data)
    return (usage_of(data.get("usageMetadata")) if isinstance(data, dict) else None) or usage


def read_member(key: str | None, raw: bytes, usage: Usage | None) -> Usage | None:
    """`usageMetadata` of a body, or of one element of the JSON-array stream (key None)."""
    if key is not None:
        return usage_of(load(raw)) or usage
    if b"usageMetadata" not in raw:
        return usage
    data = load(raw)
    return (usage_of(data.get("usageMetadata")) if isinstance(data, dict) else None) or usage


def stream_observer(content_type: str, hide_usage_chunk: bool = False) -> Observer:
    """The usage observer for a response body; Gemini reports usage unasked."""
    return observer(
        content_type, read_event=read_event, read_member=read_member, keys=("usageMetadata",)
    )
