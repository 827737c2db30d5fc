"""The OpenAI wire format: chat/completions, completions, responses, embeddings, models."""

from __future__ import annotations

import json

NAME = "openai"

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
