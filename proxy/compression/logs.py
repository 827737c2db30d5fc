"""Lossy but safe thinning of log, build, test and search output.

Every error, warning, failure and stack-trace line is kept, with the indented lines that follow it,
as are the head and the tail. Repeated or near-identical lines collapse into one line with a
count, and each run of other lines left out becomes one marker line saying how many.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Set as AbstractSet
from itertools import accumulate, compress, count, filterfalse, islice, pairwise, repeat
from operator import add, ne, sub

from ahocorasick_rs import BytesAhoCorasick

from proxy.compression import pinning

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
    # The lines a build or installer ends with, and records saying something is missing.
    b"successfully",
    b"exit code",
    b"exit status",
    b"exited with",
    b"not found",
    b"no such",
    b"not installed",
    b"could not",
    b"cannot",
    b"unable to",
)
# Searching for all of them at once is several times faster than one search per needle.
_NEEDLES = BytesAhoCorasick(list(IMPORTANT_NEEDLES))
# Lines that look like tool output: test runners, package managers, compilers, build tools,
# timestamped or levelled log lines, `path:line:` search hits, git history. Runs that the next
# character cannot continue are possessive (`*+`, `++`): a line that fails is given up at once
# instead of being retried from every shorter run, with the same lines matching. A pytest node id
# (`path::name PASSED`) is found by a lookahead that stops at the first `::`, then one possessive
# run: `\S+::\S+ ` retried the rest of the run from every `::` in it, quadratic in a line of them.
_LOG_LINE = re.compile(
    r"(?:={3,} |collected \d+ item|npm (?:WARN|ERR!|notice|warn|error|http)|added \d+ package"
    r"|Collecting \S|Downloading \S|Successfully installed|Requirement already satisfied"
    r"|[ \t]*+(?:(?:Compiling|Checking) \S+ v\d|(?:Finished|Running) `|File \")"
    r"|make(?:\[\d+\])?: "
    r"|\[\s*\d+%\]|> Task |\[(?:INFO|WARNING|WARN|ERROR|DEBUG)\] |Step \d+/\d+ |#\d+ \["
    r"|commit [0-9a-f]{7,40}\b|Author: |(?:ok|FAIL|PASS|---|===) |Tests?: "
    r"|\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\d\d:\d\d:\d\d|\[\s*\d+\.\d+\]"
    r"|\[?(?:INFO|DEBUG|WARN|WARNING|ERROR|TRACE|FATAL|NOTICE)\b"
    r"|[\w./-]++:\d+[:-]|\S+\.\w+ [.FEsx]++ |[ \t]++at \S|(?=\S*?\S::\S)\S++ (?:PASSED|FAILED)"
    r")"
)
# How many lines must look like tool output for the whole text to be treated as such.
LOG_LINE_SHARE = 0.2
# Looking at this much of the head and of the tail is enough to tell log output from other text.
SAMPLE_CHARS = 4 * 1024
_SAMPLE_BATCH = 32
_DIGITS = b"0123456789"
# The line-number gutter of a compiler's code excerpt (`42 |     let cfg = load();`).
_GUTTER = re.compile(r"\d+ +\|")
# Progress bars redraw a line with carriage returns; a terminal shows only the last drawing. A
# drawing is matched only from where one can begin (the text's or a line's start, or just after a
# carriage return), and its run is possessive: a run that ends without a carriage return is given
# up once, instead of being rescanned from each of its characters (quadratic in a long line).
_OVERDRAWN = re.compile(r"(?<![^\n\r])[^\n\r]*+\r(?=[^\n])")


def log_line_share(lines: list[str]) -> float:
    """The share of these lines shaped like tool output (test runners, installers, logs, ...)."""
    return sum(map(bool, map(_LOG_LINE.match, lines))) / len(lines) if lines else 0.0


def looks_like_log(text: str) -> bool:
    """Whether text is tool output that may be thinned: long enough, and mostly log-shaped."""
    if not _has_lines(text, MIN_LINES):
        return False
    if text.startswith("diff --git") or "\ndiff --git " in text:
        # A diff is read hunk by hunk to edit code; cutting its middle would mislead.
        return False
    # Matching at line starts only is far cheaper than searching the whole text for them.
    sample = text if len(text) <= 2 * SAMPLE_CHARS else text[:SAMPLE_CHARS] + text[-SAMPLE_CHARS:]
    lines = sample.split("\n")
    needed = LOG_LINE_SHARE * len(lines)
    matched = 0
    # Log output usually reaches its share within the first lines, so lines are matched a batch
    # at a time and the matching stops there; the answer is the same as matching them all.
    for start in range(0, len(lines), _SAMPLE_BATCH):
        matched += sum(map(bool, map(_LOG_LINE.match, lines[start : start + _SAMPLE_BATCH])))
        if matched >= needed:
            return True
    return False


def _has_lines(text: str, wanted: int) -> bool:
    """Whether text has at least `wanted` lines, without counting the lines of a long text."""
    position = -1
    for _ in range(wanted - 1):
        position = text.find("\n", position + 1)
        if position == -1:
            return False
    return True


def compress_log(text: str, terms: tuple[str, ...] = ()) -> str:
    """Log text with repeats collapsed and unimportant middle lines left out.

    Lines holding one of `terms` (what the user and the agent asked about) are kept like errors.
    """
    if "\r" in text:
        text = _OVERDRAWN.sub("", text)
    lines = text.split("\n")
    # A line's shape is the line without its digits: progress and timing lines differ only there.
    # No needle holds a digit, so a shape is important exactly when its lines are.
    shapes = text.encode("utf-8", "surrogatepass").translate(None, _DIGITS).split(b"\n")
    hot_lines = _hot_lines(shapes, important_shapes(shapes))
    pinned = pinning.pinned_lines(text, lines, terms) | whole_blocks(text, lines)
    log = Entries(lines, entry_starts(lines, shapes, hot_lines, pinned), hot_lines)
    return "\n".join(log.render(log.kept(pinned)))


def important_shapes(shapes: list[bytes]) -> set[bytes]:
    """The line shapes holding an error, warning, failure or stack-trace frame."""
    # Logs repeat themselves, so each distinct shape is searched once. A leading newline lets the
    # line-start needles match the first shape.
    distinct = list(dict.fromkeys(shapes))
    lowered = b"\n" + b"\n".join(distinct).lower()
    # One pass finds every needle. Matches do not overlap, but a needle holds a newline only as
    # its first byte, so no match runs from one shape into the next: each shape holding a needle
    # has a match of its own.
    matches = _NEEDLES.find_matches_as_indexes(lowered)
    if not matches:
        return set()
    # Shape k starts at 1 + k + the lengths of the shapes before it.
    starts = list(map(add, accumulate(map(len, distinct), initial=0), count(1)))
    found: set[bytes] = set()
    for _, hit, _ in matches:
        # A needle that begins with the newline points at the first character of its line.
        index = bisect_right(starts, hit + (lowered[hit] == 10)) - 1
        found.add(distinct[index])
    return found


def entry_starts(
    lines: list[str],
    shapes: list[bytes],
    hot_lines: list[int],
    pinned: AbstractSet[int] = frozenset(),
) -> list[int]:
    """The first line of each entry: runs of identical lines, and runs of unimportant lines alike
    but for their digits, become one entry each; a pinned line always opens an entry of its own,
    and the line after it opens the next."""
    # A line starts an entry when its shape differs from the line before; logs have tens of
    # thousands of short lines per MB, so that is one list-at-a-time comparison.
    starts = [0, *compress(count(1), map(ne, islice(shapes, 1, None), shapes))]
    # An important line joins only a line identical to it. Alike lines share their shape, so
    # both are important or neither is, and only the (few) important lines need a look.
    apart = [
        line
        for line in hot_lines
        if line and shapes[line] == shapes[line - 1] and lines[line] != lines[line - 1]
    ]
    if pinned:
        apart += [line for line in pinned if line] + [line + 1 for line in pinned]
        apart = [line for line in apart if line < len(lines)]
    return sorted(set(starts).union(apart)) if apart else starts


def _hot_lines(shapes: list[bytes], hot: set[bytes]) -> list[int]:
    if not hot:
        return []
    return list(compress(range(len(shapes)), map(hot.__contains__, shapes)))


class Entries:
    """Input lines collapsed into entries: entry k is lines[starts[k]:starts[k + 1]]."""

    def __init__(self, lines: list[str], starts: list[int], hot_lines: list[int]) -> None:
        self.lines = lines
        self.starts = starts
        self.ends = [*starts[1:], len(lines)]
        # An entry is important when its first line is; a hot line only ever joins an identical
        # line, so every hot line lies in an important entry: the last one starting at or before it.
        self.important = set(map(sub, map(bisect_right, repeat(starts), hot_lines), repeat(1)))

    def kept(self, pinned: AbstractSet[int] = frozenset()) -> list[int]:
        """The entries that survive, in order: head, tail, important lines with their context,
        and every pinned line."""
        total = len(self.starts)
        if len(self.lines) < MIN_LINES or total <= HEAD_LINES + TAIL_LINES:
            return list(range(total))
        important = self.important
        # Each important entry is kept with the entries either side of it.
        keep = set(range(HEAD_LINES)) | set(range(total - TAIL_LINES, total)) | important
        # A pinned line opens its own entry, so the entry starting there is exactly that line.
        keep.update(bisect_right(self.starts, line) - 1 for line in pinned)
        keep.update(map(sub, important, repeat(1)), map(add, important, repeat(1)))
        keep.difference_update((-1, total))
        # An important entry also keeps the block it opens, which starts two entries on; an
        # important entry there opens its own block instead (stack frames are each important).
        for first in filterfalse(important.__contains__, map(add, important, repeat(2))):
            self._keep_block(keep, first)
        kept = sorted(keep)
        # A lone left-out entry is kept: its marker would be as long as the line.
        lone = [a + 1 for a, b in pairwise(kept) if b - a == 2]
        return sorted(keep.union(lone)) if lone else kept

    def _keep_block(self, keep: set[int], first: int) -> None:
        """Keep the entries from `first` on while they continue the block above them."""
        for follow in range(first, min(len(self.starts), first + CONTINUATION_LINES)):
            if follow in self.important or not _continues(self.lines[self.starts[follow]]):
                break
            keep.add(follow)

    def render(self, kept: list[int]) -> list[str]:
        """Kept entries as lines, and a marker for each run of left-out lines."""
        out: list[str] = []
        position = 0
        for index in kept:
            start, end = self.starts[index], self.ends[index]
            if start > position:
                out.append(f"[... {start - position} lines omitted ...]")
            out.append(self.lines[start] if end - start == 1 else self._entry_line(start, end))
            position = end
        if position < len(self.lines):
            out.append(f"[... {len(self.lines) - position} lines omitted ...]")
        return out

    def _entry_line(self, start: int, end: int) -> str:
        """An entry of several lines: its first line, with how many it stands for."""
        line = self.lines[start]
        size = end - start
        if self.lines[start:end].count(line) == size:
            return f"{line} [repeated {size} times]"
        return f"{line} [+{size - 1} similar lines]"


# Where a test runner reports its failures (`=== FAILURES ===`) up to its next section, and where
# a Python traceback starts.
_BLOCK_OPENERS = (" FAILURES =", " ERRORS =", "Traceback (most recent call last)")
_BLOCK_START = re.compile(
    r"^(=+ (?:FAILURES|ERRORS) =+)$|^Traceback \(most recent call last\)", re.MULTILINE
)
_SECTION = re.compile(r"=+ .+ =+$")
# The most lines kept whole from one failure report or traceback.
WHOLE_BLOCK_LINES = 2000


def whole_blocks(text: str, lines: list[str]) -> set[int]:
    """Lines of the errors an agent must act on, kept whole: a test runner's failure reports and
    every Python traceback up to its exception line."""
    whole: set[int] = set()
    if not any(opener in text for opener in _BLOCK_OPENERS):
        return whole
    # One search finds where each block opens; only the lines of those blocks are looked at.
    starts = list(accumulate((len(line) + 1 for line in lines[:-1]), initial=0))
    done = 0
    for match in _BLOCK_START.finditer(text):
        index = bisect_right(starts, match.start()) - 1
        if index < done:
            continue
        end = index + 1
        limit = min(len(lines), index + WHOLE_BLOCK_LINES)
        if match.group(1):
            while end < limit and not _SECTION.match(lines[end]):
                end += 1
        else:
            while end < limit and _continues(lines[end]):
                end += 1
            # The exception line that ends a traceback is part of it.
            end = min(end + 1, len(lines))
        whole.update(range(index, end))
        done = end
    return whole


def _continues(line: str) -> bool:
    """Whether a line belongs to the block above it: indented, or a compiler's `42 |` gutter."""
    return line[:1].isspace() or bool(_GUTTER.match(line))
