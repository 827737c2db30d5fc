"""The Anthropic wire format: messages, count_tokens, batches, models."""

from __future__ import annotations

import json

NAME = "anthropic"

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
