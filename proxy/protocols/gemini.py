"""The Gemini v1beta wire format: generateContent, streamGenerateContent, countTokens."""

from __future__ import annotations

import json
from urllib.parse import unquote

NAME = "gemini"

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
_MODEL_PREFIX = "/v1beta/models/"


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
    """`/v1beta/models/{model}:method` → (head, model, tail) with head + model + tail == path.

    The model is everything between `models/` and the last `:`, so ids that contain `:` or `/`
    survive; it is returned percent-decoded, while head and tail stay as sent.
    """
    if not raw_path.startswith(_MODEL_PREFIX):
        return None
    rest = raw_path[len(_MODEL_PREFIX) :]
    model, colon, method = rest.rpartition(":")
    if not colon or not method.isalpha():
        model, method = rest, ""
    if not model:
        return None
    tail = raw_path[len(_MODEL_PREFIX) + len(model) :]
    return _MODEL_PREFIX, unquote(model), tail


def query_key(query: str) -> str | None:
    """The value of a `key=` query parameter, the Gemini way of sending the API key."""
    for item in query.split("&"):
        name, _, value = item.partition("=")
        if name == "key":
            return value
    return None


def drop_query_key(query: str) -> str:
    return "&".join(item for item in query.split("&") if item and item.partition("=")[0] != "key")
