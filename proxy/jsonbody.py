"""Reading a JSON request body and rewriting one top-level string without re-serializing."""

from __future__ import annotations

import json
import re
from typing import Any

# A JSON string token, or a bracket: enough to track nesting depth at C speed.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]', re.DOTALL)
_COLON = re.compile(rb"\s*:\s*")


def parse_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object; None when it is not one. Raises ValueError on bad JSON."""
    data = json.loads(body)
    return data if isinstance(data, dict) else None


def replace_top_level_string(body: bytes, key: str, value: str) -> bytes:
    """The body with the top-level string `key` set to `value`; every other byte unchanged."""
    depth = 0
    for token in _TOKENS.finditer(body):
        text = token.group()
        if text in (b"{", b"["):
            depth += 1
        elif text in (b"}", b"]"):
            depth -= 1
        elif depth == 1 and json.loads(text) == key:
            colon = _COLON.match(body, token.end())
            if colon is None:
                continue
            old = _TOKENS.match(body, colon.end())
            if old is None or not old.group().startswith(b'"'):
                return body
            return body[: old.start()] + json.dumps(value).encode() + body[old.end() :]
    return body
