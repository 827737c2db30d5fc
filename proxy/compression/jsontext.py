"""Tool-output text that is a JSON document: recognising it, and writing values back compactly.

Output is always strict JSON: documents whose numbers overflow to infinity or that spell NaN are
left alone rather than written back in a form other parsers reject. orjson does the work where
its result is byte for byte the standard library's, and the standard library everywhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

# Returned when text is not a JSON object or array; None is a valid JSON value.
NOT_JSON = object()

# orjson reads integers beyond 64 bits as floats, so documents holding a run of this many digits
# (the shortest integer that may not fit) are read by the standard library, which keeps them exact.
_LONG_DIGITS = b"0" * 19
# Digits become "0" and every other byte a space, so one search finds runs of digits.
_DIGIT_MASK = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
# orjson writes floats below 1e-4 as "0.00001" or "1e-7" where the standard library writes
# "1e-05" and "1e-07"; every other float, and 1e16 and above ("1e+16"), both write alike.
_SMALL_FLOAT_MARKS = (b"e-", b"0.0000")
# A number in compact JSON follows one of these bytes, and runs on with these up to its "e".
_NUMBER_OPENERS = frozenset(b":,[")
_NUMBER_BYTES = frozenset(b"0123456789.-")


@dataclass(frozen=True)
class Document:
    """A parsed JSON object or array, and whether orjson may write values built from it."""

    value: Any
    # Read by orjson: no integer beyond 64 bits, no lone surrogate, no non-finite number.
    native: bool


def read_document(text: str) -> Document | None:
    """The parsed document when `text` is a JSON object or array (whitespace around allowed)."""
    stripped = text.strip()
    if not (stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]")):
        return None
    # Lone surrogates pass through so that orjson rejects them and the standard library reads
    # them as it always has.
    data = stripped.encode("utf-8", "surrogatepass")
    if _LONG_DIGITS not in data.translate(_DIGIT_MASK):
        try:
            return Document(orjson.loads(data), native=True)
        except orjson.JSONDecodeError:
            # Everything orjson rejects is read by the standard library, which accepts a few
            # documents orjson does not (lone surrogates, 1e400, nesting past 1024 levels).
            pass
    try:
        return Document(json.loads(stripped, parse_constant=_reject_constant), native=False)
    except (ValueError, RecursionError):
        return None


def parse_document(text: str) -> Any:
    """The parsed value when `text` is a JSON object or array, NOT_JSON otherwise."""
    document = read_document(text)
    return NOT_JSON if document is None else document.value


def dump_compact(value: Any, *, native: bool = False) -> str | None:
    """The value as JSON without optional whitespace; None when it has no strict JSON form.

    `native` says the value holds only what a native Document may hold (plus strings), which
    lets orjson write it; the result is the same either way.
    """
    if native:
        try:
            literal = orjson.dumps(value)
        except orjson.JSONEncodeError:
            # Nesting past orjson's limit, or a lone surrogate: the standard library decides.
            pass
        else:
            if _floats_written_alike(literal):
                return literal.decode("utf-8")
    return _dump_compact_stdlib(value)


def _dump_compact_stdlib(value: Any) -> str | None:
    try:
        literal = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (ValueError, RecursionError):
        return None
    if _has_utf8_form(literal):
        return literal
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _floats_written_alike(literal: bytes) -> bool:
    """Whether orjson's compact JSON holds no float the standard library writes differently.

    Every float orjson writes differently holds one of the small-float marks right after the
    opener of a number; the marks turn up in strings too ("service-a"), so each hit is checked.
    """
    for mark in _SMALL_FLOAT_MARKS:
        hit = literal.find(mark)
        while hit != -1:
            if _in_number(literal, hit):
                return False
            hit = literal.find(mark, hit + 1)
    return True


def _in_number(literal: bytes, position: int) -> bool:
    """Whether the mark at `position` ends the start of a number: only digits, a point or a minus
    sign stand between it and the `:`, `,` or `[` before the number."""
    start = position
    while start > 0 and literal[start - 1] in _NUMBER_BYTES:
        start -= 1
    return start > 0 and literal[start - 1] in _NUMBER_OPENERS


def dump_string(text: str) -> str:
    """A JSON string literal for `text`, kept as UTF-8 unless it holds lone surrogates."""
    try:
        # orjson escapes exactly what json.dumps(text, ensure_ascii=False) escapes.
        return orjson.dumps(text).decode("utf-8")
    except orjson.JSONEncodeError:
        # A lone surrogate (sent as a \ud8xx escape) cannot be written as UTF-8; such text is
        # written with every non-ASCII character escaped instead.
        return json.dumps(text)


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
    document = read_document(text)
    if document is None:
        return None
    return dump_compact(document.value, native=document.native)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")
