"""JSON bodies without re-serializing: reading a request, rewriting members byte for byte (found
by the one raw-JSON walk, `proxy.compression.rawjson`), and collecting the top-level objects of a
response body that arrives in pieces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from typing import Any

import orjson

from proxy.compression import rawjson

# A JSON string token or a bracket, when the text may stop anywhere: group 1 is unset for a
# string cut short.
_STREAM_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*(")?|[{}\[\]]', re.DOTALL)
_STRING_REST = re.compile(rb'(?:[^"\\]|\\.)*(")?', re.DOTALL)
_QUOTE, _BRACE, _BRACKET = ord('"'), ord("{"), ord("[")
_OPENERS = frozenset((_BRACE, _BRACKET))
# Member names longer than this are never among the keys a caller collects.
_KEY_LIMIT = 256


def parse_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object; None when it is not one. Raises ValueError on bad JSON.

    orjson reads a large body several times faster; what only the standard library accepts
    (NaN and Infinity, lone surrogates, UTF-16 and UTF-32) is read by it. orjson gives an integer
    past 64 bits as a float: callers read the routing members (strings and flags) and forward the
    body's own bytes, never a re-serialized value.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = json.loads(body)
    return data if isinstance(data, dict) else None


def replace_top_level_string(body: bytes, key: str, value: str) -> bytes:
    """The body with the top-level string `key` set to `value` (every occurrence, for a key sent
    twice); every other byte unchanged."""
    text, start = _text(body)
    found: list[rawjson.Span] = []
    rawjson.locate(text, start, {key: rawjson.LEAF}, found)
    encoded = json.dumps(value).encode()
    for span in reversed(found):
        if isinstance(span.value, str):
            body = body[: span.start] + encoded + body[span.end :]
    return body


def append_member(body: bytes, key: str, raw: bytes) -> bytes:
    """The top-level object with `"key": raw` added last; the caller knows `key` is absent."""
    close = len(body.rstrip()) - 1
    empty = body[:close].rstrip().endswith(b"{")
    member = json.dumps(key).encode() + b":" + raw
    return body[:close] + (member if empty else b"," + member) + body[close:]


def set_member(body: bytes, path: Sequence[str], raw: bytes) -> bytes:
    """The body with the member at `path` (keys from the top-level object down) set to `raw`.

    Missing objects on the way are created and a non-object on the way is replaced; every other
    byte stays as it was.
    """
    text, start = _text(body)
    return _set_in_object(body, text, start, path, raw)


def _text(body: bytes) -> tuple[str, int]:
    """The body as text whose offsets are its byte offsets (Latin-1 maps byte to character; JSON's
    structure is ASCII, so the walk reads it the same), and where its value starts."""
    text = body.decode("latin-1")
    return text, rawjson.skip_whitespace(text, 0)


def _set_in_object(body: bytes, text: str, start: int, path: Sequence[str], raw: bytes) -> bytes:
    key, rest = path[0], path[1:]
    found: list[rawjson.Span] = []
    close = rawjson.locate(text, start, {key: rawjson.LEAF}, found) - 1
    if not found:
        member = json.dumps(key).encode() + b":" + _nested(rest, raw)
        separator = b"" if text[start + 1 : close].strip() == "" else b","
        return body[:close] + separator + member + body[close:]
    # A key sent twice: the last one is what a JSON reader keeps.
    value = found[-1]
    if rest and text[value.start] == "{":
        return _set_in_object(body, text, value.start, rest, raw)
    return body[: value.start] + _nested(rest, raw) + body[value.end :]


def _nested(path: Sequence[str], raw: bytes) -> bytes:
    for key in reversed(path):
        raw = b"{" + json.dumps(key).encode() + b":" + raw + b"}"
    return raw


class Children:
    """Collects, from a JSON document fed in pieces, the objects directly inside its top level.

    Inside a top-level array every object element is returned (key None); inside a top-level
    object only the members named in `keys`. Memory stays bounded by `limit`: a larger child is
    skipped, and nothing else is kept beyond the key being read.
    """

    def __init__(self, keys: Collection[str], limit: int) -> None:
        self.keys = {json.dumps(key).encode(): key for key in keys}
        self.limit = limit
        self._buf = bytearray()
        self._pos = 0  # _buf is scanned up to here
        self._depth = 0
        self._in_string = False
        self._in_array = False  # the top-level value is an array
        self.opened = False  # the top-level value has begun
        self._key = b""  # the latest string token directly inside the top-level object
        self._string_at = -1  # where an unfinished top-level string began, to read it as a key
        self._child_at = -1  # where the child being collected began

    def feed(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        self._buf += chunk
        found: list[tuple[str | None, bytes]] = []
        if not self._in_string or self._finish_string():
            for token in _STREAM_TOKENS.finditer(self._buf, self._pos):
                self._pos = token.end()
                if not self._token(token, found):
                    break
        self._trim()
        return found

    @property
    def between_elements(self) -> bool:
        """Directly inside the top-level array, outside every element."""
        return self._in_array and self._depth == 1 and not self._in_string

    def _finish_string(self) -> bool:
        rest = _STRING_REST.match(self._buf, self._pos)
        # The pattern matches the empty string too, so there is always a match.
        assert rest is not None
        self._pos = rest.end()
        if rest.start(1) < 0:
            return False
        self._in_string = False
        if self._string_at >= 0:
            self._key = bytes(self._buf[self._string_at : self._pos])
            self._string_at = -1
        elif self._depth == 1:
            self._key = b""
        return True

    def _token(self, token: re.Match[bytes], found: list[tuple[str | None, bytes]]) -> bool:
        """Track one token; False when it is a string that continues in a later chunk."""
        first = self._buf[token.start()]
        if first == _QUOTE:
            if token.start(1) < 0:
                self._in_string = True
                self._string_at = token.start() if self._depth == 1 else -1
                return False
            if self._depth == 1:
                short = token.end() - token.start() <= _KEY_LIMIT
                self._key = bytes(self._buf[token.start() : token.end()]) if short else b""
        elif first in _OPENERS:
            self._depth += 1
            if self._depth == 1:
                self._in_array = first == _BRACKET
                self.opened = True
            elif (
                self._depth == 2 and first == _BRACE and (self._in_array or self._key in self.keys)
            ):
                self._child_at = token.start()
        else:
            self._depth -= 1
            if self._depth == 1 and self._child_at >= 0:
                key = None if self._in_array else self.keys[self._key]
                found.append((key, bytes(self._buf[self._child_at : token.end()])))
                self._child_at = -1
        return True

    def _trim(self) -> None:
        """Forget the scanned bytes that no child or key still needs."""
        keep = self._pos
        if self._child_at >= 0:
            if len(self._buf) - self._child_at > self.limit:
                self._child_at = -1
            else:
                keep = self._child_at
        if self._string_at >= 0:
            if len(self._buf) - self._string_at > _KEY_LIMIT:
                self._string_at = -1
            else:
                keep = min(keep, self._string_at)
        if keep:
            del self._buf[:keep]
            self._pos -= keep
            self._child_at -= keep if self._child_at >= 0 else 0
            self._string_at -= keep if self._string_at >= 0 else 0
