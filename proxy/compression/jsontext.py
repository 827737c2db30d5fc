"""Tool-output text that is a JSON document: recognising it, and writing values back compactly.

Output is always strict JSON: documents whose numbers overflow to infinity or that spell NaN are
left alone rather than written back in a form other parsers reject.
"""

from __future__ import annotations

import json
from typing import Any

# Returned when text is not a JSON object or array; None is a valid JSON value.
NOT_JSON = object()


def parse_document(text: str) -> Any:
    """The parsed value when `text` is a JSON object or array (surrounding whitespace allowed)."""
    stripped = text.strip()
    if not (stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]")):
        return NOT_JSON
    try:
        return json.loads(stripped, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return NOT_JSON


def dump_compact(value: Any) -> str | None:
    """The value as JSON without optional whitespace; None when it has no strict JSON form."""
    try:
        literal = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (ValueError, RecursionError):
        return None
    if _has_utf8_form(literal):
        return literal
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def dump_string(text: str) -> str:
    """A JSON string literal for `text`, kept as UTF-8 unless it holds lone surrogates."""
    literal = json.dumps(text, ensure_ascii=False)
    return literal if _has_utf8_form(literal) else json.dumps(text)


def _has_utf8_form(literal: str) -> bool:
    # A lone surrogate (sent as a \ud8xx escape) cannot be written as UTF-8; such values are
    # written with every non-ASCII character escaped instead.
    if literal.isascii():
        return True
    try:
        literal.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def minify(text: str) -> str | None:
    """Pretty-printed JSON text written compactly; parses back to the same value. None otherwise."""
    value = parse_document(text)
    if value is NOT_JSON:
        return None
    return dump_compact(value)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")
