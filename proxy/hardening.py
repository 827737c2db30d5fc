"""Request limits answered in the caller's wire format (issue 6): header count and size, JSON
nesting depth, and model name length. Each is checked before the part it guards is used.
"""

from __future__ import annotations

import operator
import re
from itertools import accumulate
from typing import TYPE_CHECKING

from django.conf import settings

from proxy.errors import GatewayError

if TYPE_CHECKING:
    from proxy.gateway import Inbound

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


def check_request(inbound: Inbound) -> None:
    """Headers and body shape, after the size check and before the body is parsed (deep JSON
    would exhaust the parser's stack)."""
    check_headers(inbound.raw_headers)
    check_json_depth(inbound.body)


def check_headers(raw_headers: list[tuple[bytes, bytes]]) -> None:
    most = settings.HEADROOM_MAX_HEADERS
    if len(raw_headers) > most:
        raise GatewayError(431, f"the request has more than {most} headers", "too_many_headers")
    largest = settings.HEADROOM_MAX_HEADER_BYTES
    if sum(len(name) + len(value) for name, value in raw_headers) > largest:
        raise GatewayError(
            431, f"the request headers are larger than {largest} bytes", "headers_too_large"
        )


def check_json_depth(body: bytes) -> None:
    limit = settings.HEADROOM_MAX_JSON_DEPTH
    if json_deeper_than(body, limit):
        raise GatewayError(
            400, f"the JSON body is nested deeper than {limit} levels", "json_too_deep"
        )


def json_deeper_than(body: bytes, limit: int) -> bool:
    """Whether a JSON body nests objects and arrays more than `limit` deep.

    Every step runs in C or once per run of brackets, so a hostile body costs about what
    parsing it would; a body that is not JSON, or is malformed, is left to the parser.
    """
    if not _JSON_CONTAINER.match(body) or body.count(b"[") + body.count(b"{") <= limit:
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


def check_model(inbound: Inbound) -> None:
    longest = settings.HEADROOM_MAX_MODEL_LENGTH
    if len(inbound.model) > longest:
        raise GatewayError(
            400, f"the model name is longer than {longest} characters", "model_too_long"
        )
