"""Lossy but safe thinning of log, build, test and search output.

Every error, warning, failure and stack-trace line is kept, with the indented lines that follow it,
as are the head and the tail. Repeated or near-identical lines collapse into one line with a
count, and each run of other lines left out becomes one marker line saying how many.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

HEAD_LINES = 20
TAIL_LINES = 20
# Text with fewer lines is only collapsed, never cut: too little to gain for what is lost.
MIN_LINES = 60
# Lines kept after an important line while they are indented (a stack trace, a code excerpt).
CONTINUATION_LINES = 40

# Words that make a line important wherever they appear (any case), exception class names
# (case-sensitive, so `AssertionError` counts but a variable `errorCount` does not), and the
# shapes of stack-trace frames and test-runner section lines.
_IMPORTANT = re.compile(
    r"(?i:\b(?:errors?|fatal|fail(?:ed|ure|ures|ing|s)?|panic(?:ked)?|exceptions?|traceback"
    r"|critical|warn(?:ing|ings)?|assert(?:ion)?|abort(?:ed)?|segmentation fault|denied"
    r"|refused|timed out|timeout|killed|cannot|unable to|not found|undefined|deprecated)\b"
    r"|\bERR!)"
    r"|\w(?:Error|Exception|Warning)\b"
    r"|^[ \t]+at \S"
    r'|^[ \t]*File "[^"]*", line \d+'
    r"|^[ \t]*Caused by\b"
    r"|^goroutine \d+"
    r"|^[ \t]*--> \S"
    r"|^[E>] "
    r"|^_{3,} .* _{3,}$"
    r"|^={3,} .* ={3,}$",
    re.MULTILINE,
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
_DIGITS = re.compile(r"\d+")
# Progress bars redraw a line with carriage returns; a terminal shows only the last drawing.
_OVERDRAWN = re.compile(r"[^\n\r]*\r(?=[^\n])")


@dataclass(frozen=True)
class Entry:
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
    return len(_LOG_LINE.findall(text)) >= LOG_LINE_SHARE * lines


def compress_log(text: str) -> str:
    """Log text with repeats collapsed and unimportant middle lines left out."""
    if "\r" in text:
        text = _OVERDRAWN.sub("", text)
    lines = text.split("\n")
    entries = collapse(lines, important_lines(text, lines))
    kept = kept_entries(entries)
    return "\n".join(_render(entries, kept))


def important_lines(text: str, lines: list[str]) -> set[int]:
    """Indexes of the lines holding an error, warning, failure or stack-trace frame."""
    starts = list(accumulate((len(line) + 1 for line in lines), initial=0))
    return {bisect_right(starts, match.start()) - 1 for match in _IMPORTANT.finditer(text)}


def collapse(lines: list[str], important: set[int]) -> list[Entry]:
    """Runs of identical lines, and runs of unimportant lines alike but for their numbers."""
    shapes = _DIGITS.sub("0", "\n".join(lines)).split("\n")
    entries: list[Entry] = []
    index, total = 0, len(lines)
    while index < total:
        line, end = lines[index], index + 1
        while end < total and lines[end] == line:
            end += 1
        identical_end = end
        if end - index == 1 and index not in important:
            while end < total and shapes[end] == shapes[index] and end not in important:
                end += 1
        entries.append(Entry(line, end - index, end == identical_end, index in important))
        index = end
    return entries


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
    """Keep an important line, the line before it, the line after it and indented follow-ups."""
    total = len(entries)
    for neighbour in (index - 1, index, index + 1):
        if 0 <= neighbour < total:
            keep[neighbour] = True
    for follow in range(index + 2, min(total, index + 2 + CONTINUATION_LINES)):
        if not entries[follow].line[:1].isspace():
            break
        keep[follow] = True


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
