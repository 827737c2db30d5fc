"""How deep a JSON body nests, found without parsing it (a deep body would exhaust a parser's
stack). Imports nothing of Django's, so a body worker process can run it."""

from __future__ import annotations

import json
import operator
import re
from itertools import accumulate

# After escapes are gone, a JSON string runs from a quote to the next one (or to the end of a body
# that never closes it).
_STRING = re.compile(rb'"[^"]*(?:"|\Z)')
_JSON_CONTAINER = re.compile(rb"\s*[\[{]")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
# Depth does not depend on the kind of bracket, so objects are counted as arrays.
_ONE_KIND = bytes.maketrans(b"{}", b"[]")
_RUNS = re.compile(rb"\[+|\]+")
# Innermost pairs removed before the depth is summed; each pass lowers the depth by exactly one.
_PRUNING_PASSES = 3
# First bytes of a UTF-8 JSON body without a BOM: no re-encoding needed before the checks.
_PLAIN_START = frozenset(b'{["tfn-0123456789 \t\r\n')


def too_deep(body: bytes, limit: int) -> bool:
    """Whether the body, in whatever encoding JSON allows, nests deeper than `limit`."""
    return json_deeper_than(as_utf8(body), limit)


def as_utf8(body: bytes) -> bytes:
    """The body as UTF-8 for the checks: JSON parsers also read a BOM, UTF-16 and UTF-32
    (RFC 8259 §8.1 allows them in), which would otherwise pass the depth check unread.
    A body that starts the plain way costs one byte comparison."""
    if not body or body[0] in _PLAIN_START:
        return body
    encoding = json.detect_encoding(body)
    if encoding == "utf-8":
        return body
    return body.decode(encoding, errors="replace").encode("utf-8")


def json_deeper_than(body: bytes, limit: int) -> bool:
    """Whether a JSON body nests objects and arrays more than `limit` deep.

    Every step runs in C or once per run of brackets, so a hostile body costs about what
    parsing it would; a body that is not JSON, or is malformed, is left to the parser.
    """
    if not _JSON_CONTAINER.match(body) or not more_openers_than(body, limit):
        return False
    brackets = structure(body)
    if brackets.count(b"[") <= limit:
        return False
    # Removing the innermost pairs lowers the deepest branch by exactly one level, and leaves far
    # fewer runs of brackets to add up below; a long run of openers settles it early.
    done = 0
    while brackets and done < _PRUNING_PASSES:
        if b"[" * (limit + 1 - done) in brackets:
            return True
        brackets = brackets.replace(b"[]", b"")
        done += 1
    return max_depth(brackets) + done > limit


def more_openers_than(body: bytes, limit: int) -> bool:
    """Whether `body` holds more than `limit` of `[` and `{` together: one memchr step per
    opener up to limit + 1, so a large body with a few brackets is not scanned byte by byte."""
    found = 0
    for opener in (b"[", b"{"):
        index = body.find(opener)
        while index >= 0:
            found += 1
            if found > limit:
                return True
            index = body.find(opener, index + 1)
    return False


def max_depth(brackets: bytes) -> int:
    """The deepest nesting of a string of `[` and `]`, summed run by run."""
    runs = list(map(len, _RUNS.findall(brackets)))
    if brackets.startswith(b"]"):
        runs.insert(0, 0)
    # Runs alternate openers and closers: openers add depth, closers take it away.
    runs[1::2] = map(operator.neg, runs[1::2])
    return max(accumulate(runs), default=0)


def structure(body: bytes) -> bytes:
    """The body's brackets outside strings, all written as `[` and `]`."""
    # Escaped backslashes first, so that in `\\"` the quote still ends its string.
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in body else body
    text = text.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in text:
        text = _STRING.sub(b"", text)
    return text.translate(_ONE_KIND)
