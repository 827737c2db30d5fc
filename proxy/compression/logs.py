"""Lossy but safe thinning of log, build, test and search output.

Every error, warning, failure and stack-trace line is kept, with the indented lines that follow it,
as are the head and the tail. Repeated or near-identical lines collapse into one line with a
count, and each run of other lines left out becomes one marker line saying how many.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate
from typing import NamedTuple

HEAD_LINES = 20
TAIL_LINES = 20
# Text with fewer lines is only collapsed, never cut: too little to gain for what is lost.
MIN_LINES = 60
# Lines kept after an important line while they are indented (a stack trace, a code excerpt).
CONTINUATION_LINES = 40

# Substrings (matched in lower case) that make a line important: errors, warnings, failures,
# crashes, and the shapes of stack-trace frames and test-runner sections. Plain substring search
# is many times faster than a regular expression here, and matching too much only keeps more.
IMPORTANT_NEEDLES = (
    b"error",
    b"fail",
    b"warn",
    b"fatal",
    b"panic",
    b"exception",
    b"traceback",
    b"critical",
    b"assert",
    b"abort",
    b"denied",
    b"refused",
    b"timed out",
    b"timeout",
    b"killed",
    b"segmentation fault",
    b"err!",
    b'file "',
    b"caused by",
    b"goroutine ",
    b"\tat ",
    b"    at ",
    b"--> ",
    b"\ne ",
    b"\n> ",
    b"____",
    b"====",
)
# Lines that look like tool output: test runners, package managers, compilers, build tools,
# timestamped or levelled log lines, `path:line:` search hits, git history.
_LOG_LINE = re.compile(
    r"^(?:={3,} |collected \d+ item|npm (?:WARN|ERR!|notice|warn|error|http)|added \d+ package"
    r"|Collecting \S|Downloading \S|Successfully installed|Requirement already satisfied"
    r"|[ \t]*(?:Compiling|Checking) \S+ v\d|[ \t]*(?:Finished|Running) `|make(?:\[\d+\])?: "
    r"|\[\s*\d+%\]|> Task |\[(?:INFO|WARNING|WARN|ERROR|DEBUG)\] |Step \d+/\d+ |#\d+ \["
    r"|commit [0-9a-f]{7,40}\b|Author: |(?:ok|FAIL|PASS|---|===) |Tests?: "
    r"|\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\d\d:\d\d:\d\d|\[\s*\d+\.\d+\]"
    r"|\[?(?:INFO|DEBUG|WARN|WARNING|ERROR|TRACE|FATAL|NOTICE)\b"
    r"|[\w./-]+:\d+[:-]|\S+\.\w+ [.FEsx]+ |[ \t]+at \S|[ \t]*File \"|\S+::\S+ (?:PASSED|FAILED)"
    r")",
    re.MULTILINE,
)
# How many lines must look like tool output for the whole text to be treated as such.
LOG_LINE_SHARE = 0.2
# Looking at this much of the head and of the tail is enough to tell log output from other text.
SAMPLE_CHARS = 32 * 1024
_DIGITS = b"0123456789"
# The line-number gutter of a compiler's code excerpt (`42 |     let cfg = load();`).
_GUTTER = re.compile(r"\d+ +\|")
# Progress bars redraw a line with carriage returns; a terminal shows only the last drawing.
_OVERDRAWN = re.compile(r"[^\n\r]*\r(?=[^\n])")


class Entry(NamedTuple):
    """One output line standing for `count` consecutive input lines."""

    line: str
    count: int
    exact: bool  # the lines were identical, not merely alike
    important: bool


def looks_like_log(text: str) -> bool:
    """Whether text is tool output that may be thinned: long enough, and mostly log-shaped."""
    lines = text.count("\n") + 1
    if lines < MIN_LINES:
        return False
    if text.startswith("diff --git") or "\ndiff --git " in text:
        # A diff is read hunk by hunk to edit code; cutting its middle would mislead.
        return False
    sample = text if len(text) <= 2 * SAMPLE_CHARS else text[:SAMPLE_CHARS] + text[-SAMPLE_CHARS:]
    return len(_LOG_LINE.findall(sample)) >= LOG_LINE_SHARE * (sample.count("\n") + 1)


def compress_log(text: str) -> str:
    """Log text with repeats collapsed and unimportant middle lines left out."""
    if "\r" in text:
        text = _OVERDRAWN.sub("", text)
    lines = text.split("\n")
    # A line's shape is the line without its digits: progress and timing lines differ only there.
    # No needle holds a digit, so a shape is important exactly when its lines are.
    shapes = text.encode("utf-8", "surrogatepass").translate(None, _DIGITS).split(b"\n")
    entries = collapse(lines, shapes, important_shapes(shapes))
    return "\n".join(_render(entries, kept_entries(entries)))


def important_shapes(shapes: list[bytes]) -> set[bytes]:
    """The line shapes holding an error, warning, failure or stack-trace frame."""
    # Logs repeat themselves, so each distinct shape is searched once. A leading newline lets the
    # line-start needles match the first shape.
    distinct = list(dict.fromkeys(shapes))
    lowered = b"\n" + b"\n".join(distinct).lower()
    starts = list(accumulate((len(shape) + 1 for shape in distinct), initial=1))
    found: set[bytes] = set()
    for needle in IMPORTANT_NEEDLES:
        hit = lowered.find(needle)
        while hit != -1:
            # A needle that begins with the newline points at the first character of its line.
            index = bisect_right(starts, hit + (needle[0] == 10)) - 1
            found.add(distinct[index])
            hit = lowered.find(needle, starts[index + 1] - 1)
    return found


def collapse(lines: list[str], shapes: list[bytes], important: set[bytes]) -> list[Entry]:
    """Runs of identical lines, and runs of unimportant lines alike but for their digits."""
    hot = [shape in important for shape in shapes] if important else [False] * len(lines)
    identical = list(map(str.__eq__, lines[1:], lines[:-1]))
    alike = list(map(bytes.__eq__, shapes[1:], shapes[:-1]))
    # Line i joins the entry before it when it repeats the line before it, or when both are
    # unimportant and alike.
    starts = [0]
    starts += [
        i
        for i in range(1, len(lines))
        if not (identical[i - 1] or (alike[i - 1] and not hot[i] and not hot[i - 1]))
    ]
    differing = list(accumulate((not same for same in identical), initial=0))
    ends = starts[1:] + [len(lines)]
    return [
        Entry(lines[start], end - start, differing[end - 1] == differing[start], hot[start])
        for start, end in zip(starts, ends, strict=True)
    ]


def kept_entries(entries: list[Entry]) -> list[bool]:
    """Which entries survive: head, tail, important lines with their context."""
    total = len(entries)
    if sum(entry.count for entry in entries) < MIN_LINES or total <= HEAD_LINES + TAIL_LINES:
        return [True] * total
    keep = [index < HEAD_LINES or index >= total - TAIL_LINES for index in range(total)]
    for index, entry in enumerate(entries):
        if entry.important:
            _keep_context(entries, keep, index)
    # A lone left-out line is kept: its marker would be as long as the line.
    for index in range(1, total - 1):
        if not keep[index] and keep[index - 1] and keep[index + 1]:
            keep[index] = True
    return keep


def _keep_context(entries: list[Entry], keep: list[bool], index: int) -> None:
    """Keep an important line, the line before it, the line after it and the block it opens."""
    total = len(entries)
    for neighbour in (index - 1, index, index + 1):
        if 0 <= neighbour < total:
            keep[neighbour] = True
    for follow in range(index + 2, min(total, index + 2 + CONTINUATION_LINES)):
        if not _continues(entries[follow].line):
            break
        keep[follow] = True


def _continues(line: str) -> bool:
    """Whether a line belongs to the block above it: indented, or a compiler's `42 |` gutter."""
    return line[:1].isspace() or bool(_GUTTER.match(line))


def _render(entries: list[Entry], keep: list[bool]) -> list[str]:
    out: list[str] = []
    left_out = 0
    for entry, kept in zip(entries, keep, strict=True):
        if not kept:
            left_out += entry.count
            continue
        if left_out:
            out.append(f"[... {left_out} lines omitted ...]")
            left_out = 0
        out.append(_entry_line(entry))
    if left_out:
        out.append(f"[... {left_out} lines omitted ...]")
    return out


def _entry_line(entry: Entry) -> str:
    if entry.count == 1:
        return entry.line
    if entry.exact:
        return f"{entry.line} [repeated {entry.count} times]"
    return f"{entry.line} [+{entry.count - 1} similar lines]"
