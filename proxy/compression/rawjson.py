"""Where JSON values sit in a raw document, so one value can be replaced and every other byte kept.

The walk uses the standard library's C scanner to step over values, so it runs at parsing speed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from json.decoder import scanstring
from json.scanner import make_scanner
from typing import Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_scan_once = make_scanner(json.JSONDecoder())

# A path names a value inside a container: object keys and array indexes, outermost first.
Path = tuple[str | int, ...]
# A trie of paths: each step maps to the next level, to LEAF where a wanted value sits, or to a
# chooser: the step is an array, and the chooser names the wanted paths inside each element
# after looking at that element's parsed value.
LEAF = None
Chooser = Callable[[Any], list[Path]]
Trie = dict[str | int, "Trie | Chooser | None"]


class RawJsonError(ValueError):
    """The text is not the JSON the walk expected at some position."""


@dataclass(frozen=True)
class Span:
    """A value found in the text: `text[start:end]` is its JSON, `value` what it parses to."""

    start: int
    end: int
    value: Any


def skip_whitespace(text: str, pos: int) -> int:
    return _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]


def scan(text: str, pos: int) -> Span:
    """The value that starts at `pos` (no leading whitespace), parsed."""
    try:
        value, end = _scan_once(text, pos)
    except StopIteration:
        raise RawJsonError(f"expected a JSON value at offset {pos}") from None
    return Span(pos, end, value)


def trie_of(paths: list[Path]) -> Trie:
    trie: Trie = {}
    for path in paths:
        node = trie
        for step in path[:-1]:
            child = node.get(step)
            if child is None:
                child = node[step] = {}
            node = child
        node[path[-1]] = LEAF
    return trie


def locate(text: str, pos: int, trie: Trie, found: list[Span]) -> int:
    """Append the spans the trie names inside the container at `pos`; return the container's end.

    Values the trie does not reach are stepped over whole. A key that occurs twice is visited
    twice, so every occurrence the client sent is seen.
    """
    opener = _char(text, pos)
    if opener == "{":
        return _walk(text, pos, "}", trie, found, keyed=True)
    if opener == "[":
        return _walk(text, pos, "]", trie, found, keyed=False)
    raise RawJsonError(f"expected an object or array at offset {pos}")


def _walk(text: str, pos: int, closer: str, trie: Trie, found: list[Span], *, keyed: bool) -> int:
    pos = skip_whitespace(text, pos + 1)
    if _char(text, pos) == closer:
        return pos + 1
    index = 0
    while True:
        if keyed:
            step, pos = _key(text, pos)
        else:
            step, index = index, index + 1
        pos = _member_end(text, pos, trie, step, found)
        pos = skip_whitespace(text, pos)
        separator = _char(text, pos)
        if separator == closer:
            return pos + 1
        if separator != ",":
            raise RawJsonError(f"expected ',' or {closer!r} at offset {pos}")
        pos = skip_whitespace(text, pos + 1)


def _key(text: str, pos: int) -> tuple[str, int]:
    """The member name at `pos` and the offset of its value."""
    if _char(text, pos) != '"':
        raise RawJsonError(f"expected a member name at offset {pos}")
    key, pos = scanstring(text, pos + 1)
    pos = skip_whitespace(text, pos)
    if _char(text, pos) != ":":
        raise RawJsonError(f"expected ':' at offset {pos}")
    return key, skip_whitespace(text, pos + 1)


def _member_end(text: str, pos: int, trie: Trie, step: str | int, found: list[Span]) -> int:
    if step not in trie:
        return scan(text, pos).end
    child = trie[step]
    if child is LEAF:
        span = scan(text, pos)
        found.append(span)
        return span.end
    if callable(child):
        return _each_element(text, pos, child, found)
    if _char(text, pos) not in "{[":
        # The parsed element said a container sits here; a duplicate key may hold something else.
        return scan(text, pos).end
    return locate(text, pos, child, found)


def _each_element(text: str, pos: int, chooser: Chooser, found: list[Span]) -> int:
    """Walk the array at `pos`, locating inside each element what `chooser` asks for."""
    if _char(text, pos) != "[":
        return scan(text, pos).end
    pos = skip_whitespace(text, pos + 1)
    if _char(text, pos) == "]":
        return pos + 1
    while True:
        element = scan(text, pos)
        paths = chooser(element.value)
        if paths:
            locate(text, element.start, trie_of(paths), found)
        pos = skip_whitespace(text, element.end)
        separator = _char(text, pos)
        if separator == "]":
            return pos + 1
        if separator != ",":
            raise RawJsonError(f"expected ',' or ']' at offset {pos}")
        pos = skip_whitespace(text, pos + 1)


def _char(text: str, pos: int) -> str:
    if pos >= len(text):
        raise RawJsonError("unexpected end of JSON text")
    return text[pos]
