"""Where JSON values sit in a raw document, so one value can be replaced and every other byte kept.

The walk steps over values with the standard library's C scanner; orjson's reading of the whole
document tells it where to go, and which long strings it need not decode again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json.decoder import scanstring  # type: ignore[attr-defined]  # real, but not in typeshed
from json.scanner import make_scanner
from typing import Any, NamedTuple

import orjson

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_WHITESPACE_CHARACTERS = frozenset(" \t\n\r")
# Strings shorter than this are decoded faster than orjson writes them to be matched.
_SHORT_STRING = 256
# What may follow a member name, and a member: one match each instead of a step per character.
_COLON = re.compile(r"[ \t\n\r]*:[ \t\n\r]*")
_PLAIN_KEY = re.compile(r'"([\w$@.-]*)"[ \t\n\r]*:[ \t\n\r]*', re.ASCII)
_SEPARATOR = re.compile(r"[ \t\n\r]*(?:,[ \t\n\r]*|([\]}]))")
# typeshed types make_scanner's context as a make_scanner (a TODO there); json passes a decoder.
_scan_once = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]

# A path names a value inside a container: object keys and array indexes, outermost first.
Path = tuple[str | int, ...]
# A trie of paths: each step maps to the next level, to LEAF where a wanted value sits, or to a
# chooser: the step is an array, and the chooser names the wanted paths inside each element
# after looking at that element's parsed value.
LEAF = None
Chooser = Callable[[Any], list[Path]]
Trie = dict[str | int, "Trie | Chooser | None"]
# The parsed value of a container the walk has not parsed.
UNKNOWN = object()


class RawJsonError(ValueError):
    """The text is not the JSON the walk expected at some position."""


class MisguidedWalk(Exception):
    """The parsed value given to a walk does not describe the text (a key sent twice)."""


class Span(NamedTuple):
    """A value found in the text: `text[start:end]` is its JSON, `value` what it parses to."""

    start: int
    end: int
    value: Any


def parse(text: str) -> Any:
    """The parsed document, to guide a walk, or UNKNOWN when orjson does not read it."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return UNKNOWN


def skip_whitespace(text: str, pos: int) -> int:
    # Most positions hold no whitespace: one look at the character is far cheaper than a match.
    if text[pos : pos + 1] not in _WHITESPACE_CHARACTERS:
        return pos
    return _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]


def _skip(text: str, pos: int) -> int:
    """The end of the value that starts at `pos`."""
    try:
        return _scan_once(text, pos)[1]
    except StopIteration:
        raise RawJsonError(f"expected a JSON value at offset {pos}") from None


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
            # Only subtries and leaves here: trie_of makes no choosers.
            if not isinstance(child, dict):
                child = node[step] = {}
            node = child
        node[path[-1]] = LEAF
    return trie


def locate(text: str, pos: int, trie: Trie, found: list[Span], parsed: Any = UNKNOWN) -> int:
    """Append the spans the trie names inside the container at `pos`; return the container's end.

    Values the trie does not reach are stepped over whole. A key that occurs twice is visited
    twice, so every occurrence the client sent is seen. `parsed` is the container's value when
    the caller has already parsed it: its arrays' elements are then chosen from it, and its
    strings found without decoding them again. A parsed object keeps only the last value of a
    key sent twice, so an array chosen from that is sent twice raises MisguidedWalk, and the
    caller walks again unguided; a string sent twice is found either way.
    """
    opener = _char(text, pos)
    if opener == "{":
        return _walk(text, pos, "}", trie, found, keyed=True, parsed=parsed)
    if opener == "[":
        return _walk(text, pos, "]", trie, found, keyed=False, parsed=parsed)
    raise RawJsonError(f"expected an object or array at offset {pos}")


def _walk(
    text: str, pos: int, closer: str, trie: Trie, found: list[Span], *, keyed: bool, parsed: Any
) -> int:
    pos = skip_whitespace(text, pos + 1)
    if _char(text, pos) == closer:
        return pos + 1
    index = 0
    seen: set[str] = set()
    step: str | int
    while True:
        if keyed:
            step, pos = _key(text, pos)
            if parsed is not UNKNOWN and callable(trie.get(step)):
                # The parsed value chooses among this key's elements, so it must be this key's.
                if step in seen:
                    raise MisguidedWalk
                seen.add(step)
        else:
            step, index = index, index + 1
        pos = _member_end(text, pos, trie, step, found, _member(parsed, step))
        closed, pos = _separator(text, pos, closer)
        if closed:
            return pos


def _separator(text: str, pos: int, closer: str) -> tuple[bool, int]:
    """After a member ending at `pos`: whether its container closes there, and the offset of
    what follows (the next member, or the text after the container)."""
    match = _SEPARATOR.match(text, pos)
    if match is None or match.group(1) not in (None, closer):
        raise RawJsonError(f"expected ',' or {closer!r} at offset {skip_whitespace(text, pos)}")
    return match.group(1) is not None, match.end()


def _key(text: str, pos: int) -> tuple[str, int]:
    """The member name at `pos` and the offset of its value."""
    plain = _PLAIN_KEY.match(text, pos)
    if plain is not None:
        # Member names are nearly always plain ASCII words: no escapes to decode.
        return plain.group(1), plain.end()
    if text[pos : pos + 1] != '"':
        raise RawJsonError(f"expected a member name at offset {pos}")
    key, pos = scanstring(text, pos + 1)
    colon = _COLON.match(text, pos)
    if colon is None:
        raise RawJsonError(f"expected ':' at offset {skip_whitespace(text, pos)}")
    return key, colon.end()


def _member(parsed: Any, step: str | int) -> Any:
    """The parsed value of one member of a parsed container, or UNKNOWN."""
    if isinstance(parsed, dict):
        return parsed.get(step, UNKNOWN)
    if isinstance(parsed, list) and isinstance(step, int) and step < len(parsed):
        return parsed[step]
    return UNKNOWN


def _member_end(
    text: str, pos: int, trie: Trie, step: str | int, found: list[Span], parsed: Any
) -> int:
    if step not in trie:
        if isinstance(parsed, str) and len(parsed) >= _SHORT_STRING:
            return _value_at(text, pos, parsed).end
        return _skip(text, pos)
    child = trie[step]
    if child is LEAF:
        span = _value_at(text, pos, parsed)
        found.append(span)
        return span.end
    if callable(child):
        return _each_element(text, pos, child, found, parsed)
    if _char(text, pos) not in "{[":
        # The parsed element said a container sits here; a duplicate key may hold something else.
        return _skip(text, pos)
    return locate(text, pos, child, found, parsed)


def _value_at(text: str, pos: int, parsed: Any) -> Span:
    """The value at `pos`, without decoding it again when it is the string already parsed.

    A string literal ends at its first unescaped quote, so when the text at `pos` starts with the
    literal orjson writes for the parsed string, that literal is the value there. Clients that
    write strings the common way (UTF-8, the short escapes) are matched; for any other spelling,
    and for a duplicate key whose other value was parsed, the text is scanned as before.
    """
    if isinstance(parsed, str) and len(parsed) >= _SHORT_STRING:
        try:
            literal = orjson.dumps(parsed).decode("utf-8")
        except orjson.JSONEncodeError:
            literal = ""
        if literal and text.startswith(literal, pos):
            return Span(pos, pos + len(literal), parsed)
    return scan(text, pos)


def _each_element(text: str, pos: int, chooser: Chooser, found: list[Span], parsed: Any) -> int:
    """Walk the array at `pos`, locating inside each element what `chooser` asks for."""
    if _char(text, pos) != "[":
        return _skip(text, pos)
    guide = parsed if isinstance(parsed, list) else None
    pos = skip_whitespace(text, pos + 1)
    if _char(text, pos) == "]":
        return pos + 1
    index = 0
    while True:
        pos = _element_end(text, pos, chooser, found, guide, index)
        index += 1
        closed, pos = _separator(text, pos, "]")
        if closed:
            return pos


def _element_end(
    text: str, pos: int, chooser: Chooser, found: list[Span], guide: list[Any] | None, index: int
) -> int:
    """Locate what `chooser` asks for in the element at `pos`; return the element's end.

    Without a guide the element is parsed to be chosen from. With one, the element's parsed
    value is already known, so only the elements holding tool output are walked, and their
    tool output is not decoded again.
    """
    if guide is None:
        element = scan(text, pos)
        paths = chooser(element.value)
        if paths:
            locate(text, pos, trie_of(paths), found, element.value)
        return element.end
    if index >= len(guide):
        raise MisguidedWalk
    paths = chooser(guide[index])
    if not paths:
        return _skip(text, pos)
    return locate(text, pos, trie_of(paths), found, guide[index])


def _char(text: str, pos: int) -> str:
    if pos >= len(text):
        raise RawJsonError("unexpected end of JSON text")
    return text[pos]
