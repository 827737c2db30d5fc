"""Lossy but safe thinning of log, build, test and search output.

Every error, warning, failure and stack-trace line is kept, with the indented lines that follow it,
as are the head and the tail. Repeated or near-identical lines collapse into one line with a
count, and each run of other lines left out becomes one marker line saying how many.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate, compress, repeat
from operator import eq, gt, not_, or_, sub

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
    r"(?:={3,} |collected \d+ item|npm (?:WARN|ERR!|notice|warn|error|http)|added \d+ package"
    r"|Collecting \S|Downloading \S|Successfully installed|Requirement already satisfied"
    r"|[ \t]*(?:Compiling|Checking) \S+ v\d|[ \t]*(?:Finished|Running) `|make(?:\[\d+\])?: "
    r"|\[\s*\d+%\]|> Task |\[(?:INFO|WARNING|WARN|ERROR|DEBUG)\] |Step \d+/\d+ |#\d+ \["
    r"|commit [0-9a-f]{7,40}\b|Author: |(?:ok|FAIL|PASS|---|===) |Tests?: "
    r"|\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\d\d:\d\d:\d\d|\[\s*\d+\.\d+\]"
    r"|\[?(?:INFO|DEBUG|WARN|WARNING|ERROR|TRACE|FATAL|NOTICE)\b"
    r"|[\w./-]+:\d+[:-]|\S+\.\w+ [.FEsx]+ |[ \t]+at \S|[ \t]*File \"|\S+::\S+ (?:PASSED|FAILED)"
    r")"
)
# How many lines must look like tool output for the whole text to be treated as such.
LOG_LINE_SHARE = 0.2
# Looking at this much of the head and of the tail is enough to tell log output from other text.
SAMPLE_CHARS = 4 * 1024
_DIGITS = b"0123456789"
# The line-number gutter of a compiler's code excerpt (`42 |     let cfg = load();`).
_GUTTER = re.compile(r"\d+ +\|")
# Progress bars redraw a line with carriage returns; a terminal shows only the last drawing.
_OVERDRAWN = re.compile(r"[^\n\r]*\r(?=[^\n])")


@dataclass(frozen=True)
class Runs:
    """Input lines collapsed into entries, as parallel lists with one item per entry."""

    lines: list[str]  # the entry's first line
    counts: list[int]  # how many input lines it stands for
    exact: list[bool]  # whether those lines were identical, not merely alike
    important: list[bool]


def looks_like_log(text: str) -> bool:
    """Whether text is tool output that may be thinned: long enough, and mostly log-shaped."""
    if text.count("\n") + 1 < MIN_LINES:
        return False
    if text.startswith("diff --git") or "\ndiff --git " in text:
        # A diff is read hunk by hunk to edit code; cutting its middle would mislead.
        return False
    # Matching at line starts only is far cheaper than searching the whole text for them.
    sample = text if len(text) <= 2 * SAMPLE_CHARS else text[:SAMPLE_CHARS] + text[-SAMPLE_CHARS:]
    lines = sample.split("\n")
    return sum(map(bool, map(_LOG_LINE.match, lines))) >= LOG_LINE_SHARE * len(lines)


def compress_log(text: str) -> str:
    """Log text with repeats collapsed and unimportant middle lines left out."""
    if "\r" in text:
        text = _OVERDRAWN.sub("", text)
    lines = text.split("\n")
    # A line's shape is the line without its digits: progress and timing lines differ only there.
    # No needle holds a digit, so a shape is important exactly when its lines are.
    shapes = text.encode("utf-8", "surrogatepass").translate(None, _DIGITS).split(b"\n")
    runs = collapse(lines, shapes, important_shapes(shapes))
    return "\n".join(_render(runs, kept_entries(runs)))


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


def collapse(lines: list[str], shapes: list[bytes], important: set[bytes]) -> Runs:
    """Runs of identical lines, and runs of unimportant lines alike but for their digits."""
    total = len(lines)
    hot = list(map(important.__contains__, shapes))
    identical = list(map(eq, lines[1:], lines[:-1]))
    # Line i joins the entry before it when it repeats the line before it, or when it is alike
    # and neither line is important (`alike > hot` is "alike and not hot"). Every step is a
    # list-at-a-time builtin: logs have tens of thousands of short lines per MB.
    either_hot = map(or_, hot[1:], hot[:-1])
    quiet_alike = map(gt, map(eq, shapes[1:], shapes[:-1]), either_hot)
    joins = map(or_, identical, quiet_alike)
    starts = [0, *compress(range(1, total), map(not_, joins))]
    ends = [*starts[1:], total]
    differing = list(accumulate(map(not_, identical), initial=0))
    return Runs(
        lines=list(map(lines.__getitem__, starts)),
        counts=list(map(sub, ends, starts)),
        exact=list(
            map(
                eq,
                map(differing.__getitem__, map(sub, ends, repeat(1))),
                map(differing.__getitem__, starts),
            )
        ),
        important=list(map(hot.__getitem__, starts)),
    )


def kept_entries(runs: Runs) -> list[bool]:
    """Which entries survive: head, tail, important lines with their context."""
    total = len(runs.lines)
    if sum(runs.counts) < MIN_LINES or total <= HEAD_LINES + TAIL_LINES:
        return [True] * total
    keep = [True] * HEAD_LINES + [False] * (total - HEAD_LINES - TAIL_LINES) + [True] * TAIL_LINES
    for index in compress(range(total), runs.important):
        _keep_context(runs, keep, index)
    # A lone left-out line is kept: its marker would be as long as the line.
    for index in [i for i in range(1, total - 1) if not keep[i] and keep[i - 1] and keep[i + 1]]:
        keep[index] = True
    return keep


def _keep_context(runs: Runs, keep: list[bool], index: int) -> None:
    """Keep an important line, the line before it, the line after it and the block it opens."""
    total = len(runs.lines)
    for neighbour in (index - 1, index, index + 1):
        if 0 <= neighbour < total:
            keep[neighbour] = True
    for follow in range(index + 2, min(total, index + 2 + CONTINUATION_LINES)):
        # An important line opens its own block; stack frames are each important.
        if runs.important[follow] or not _continues(runs.lines[follow]):
            break
        keep[follow] = True


def _continues(line: str) -> bool:
    """Whether a line belongs to the block above it: indented, or a compiler's `42 |` gutter."""
    return line[:1].isspace() or bool(_GUTTER.match(line))


def _render(runs: Runs, keep: list[bool]) -> list[str]:
    out: list[str] = []
    left_out = 0
    for line, count, exact, kept in zip(runs.lines, runs.counts, runs.exact, keep, strict=True):
        if not kept:
            left_out += count
            continue
        if left_out:
            out.append(f"[... {left_out} lines omitted ...]")
            left_out = 0
        out.append(_entry_line(line, count, exact))
    if left_out:
        out.append(f"[... {left_out} lines omitted ...]")
    return out


def _entry_line(line: str, count: int, exact: bool) -> str:
    if count == 1:
        return line
    if exact:
        return f"{line} [repeated {count} times]"
    return f"{line} [+{count - 1} similar lines]"
