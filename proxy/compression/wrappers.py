"""Text that agent clients wrap around a command's output, recognised so that the wrapper stays
byte for byte as sent and only the output inside it is compressed.

Codex writes a header of `Key: value` lines ending in `Output:` before the output; Gemini CLI
puts the output in `<untrusted_context>` tags after `Output: `, with `Exit Code: …`-style lines
after it.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Wrapped(NamedTuple):
    """`head + payload + tail == text`; only the payload may be compressed."""

    head: str
    payload: str
    tail: str


# Codex's exec header (`Chunk ID: 3f2a`, `Wall time: 0.0521 seconds`, `Process exited with code
# 0`, `Original token count: 812`), and the older `Exit code: 0` form; `Output:` ends it.
_CODEX_HEAD = re.compile(
    r"\A(?:(?:Chunk ID: |Wall time: |Process exited with code |Process running with session ID "
    r"|Original token count: |Exit code: |Total output lines: )[^\n]*\n){1,8}Output:\n"
)
# Tags Gemini CLI (and others) put around a tool's text.
_TAGGED = re.compile(r"\A<(untrusted_context|output|tool_output)>\n(.*)\n</\1>\n?\Z", re.S)
# Gemini CLI's shell result: an optional `Command:` / `Directory:` header, `Output: ` and the
# output, then the lines it adds after the output.
_GEMINI_HEAD = re.compile(r"\A(?:Command: [^\n]*\nDirectory: [^\n]*\n)?Output: ")
# The tail is read line by line from the end: a search for "such lines up to the end" retried
# every later line from each one, quadratic in a text of many such lines that does not end there.
_GEMINI_TAIL_LINE = re.compile(r"(?:Error|Exit Code|Signal|Background PIDs|Process Group PGID): ")


def unwrap(text: str) -> Wrapped | None:
    """The wrapper and the payload inside it, or None when the text is not wrapped."""
    tagged = _TAGGED.match(text)
    if tagged is not None:
        start, end = tagged.span(2)
        inner = unwrap(tagged.group(2))
        if inner is None:
            return Wrapped(text[:start], tagged.group(2), text[end:])
        return Wrapped(text[:start] + inner.head, inner.payload, inner.tail + text[end:])
    codex = _CODEX_HEAD.match(text)
    if codex is not None:
        return Wrapped(text[: codex.end()], text[codex.end() :], "")
    gemini = _GEMINI_HEAD.match(text)
    if gemini is not None:
        cut = gemini_tail_start(text, gemini.end())
        return Wrapped(text[: gemini.end()], text[gemini.end() : cut], text[cut:])
    return None


def gemini_tail_start(text: str, start: int) -> int:
    """Where the lines Gemini CLI adds after a shell's output begin (len(text) when there are
    none): the last lines of the text from `start` on, each opening with one of its labels."""
    cut = len(text)
    while True:
        newline = text.rfind("\n", start, cut)
        if newline < 0 or not _GEMINI_TAIL_LINE.match(text, newline + 1, cut):
            return cut
        cut = newline
