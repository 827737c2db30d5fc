"""Reversible shortening of command output: repeated lines and blocks, and long separator runs.

Every step writes what it removed as an explicit count, so the original text can be rebuilt from
the result and a reader learns from it all the original says. Each distinct line that appears is
kept byte for byte (the separator step only rewrites a run of one decoration character as the
character and its count), so every fact on a line survives; both run in time linear in the text.
"""

from __future__ import annotations

import re
from itertools import islice
from operator import eq

# The longest block of lines whose consecutive repeats are folded (a recursion's frames).
MAX_BLOCK_LINES = 16
# A separator run shorter than this is left as it is: too little to gain, and short runs are as
# often data (`--`, `**`) as decoration.
MIN_SEPARATOR_RUN = 16
# Characters that make rules and underlines, in ASCII and box drawing. `+`, `^`, `.` and `#` are
# not among them: they draw diffstat graphs, carets under code, test progress and progress bars.
SEPARATORS = "=-_*~─━═"
# One pattern per character, opening with the shortest run spelled out: a literal prefix is
# found by a fast substring search instead of a try at every position of the text.
_RUNS = {char: re.compile(re.escape(char * MIN_SEPARATOR_RUN) + "+") for char in SEPARATORS}
# The graph of a diffstat line (`path | 14 +++++-----`): its length is the size of the change.
_DIFFSTAT = re.compile(r"\| *\d+ \+*-+$")


def fold_repeats(text: str) -> str:
    """Runs of a line or of a block of lines repeated back to back become the line or block once,
    then a marker saying how many more times it was repeated.

    A run is folded only when the marker is shorter than the copies it stands for; blocks of
    blank lines are left to the blank-line step. Runs are taken first come, and of those that
    start on the same line the one of the fewest lines.
    """
    lines = text.split("\n")
    if len(set(lines)) == len(lines):
        return text
    out: list[str] = []
    position = 0
    for start, size, length in _periodic_runs(lines):
        if start < position:
            # Part of this run was folded into an earlier one; what is left may still repeat.
            length -= position - start
            start = position
        times = 1 + length // size
        if times < 2:
            continue
        block = lines[start : start + size]
        marker = _marker(block[0], size, times - 1)
        removed = (sum(map(len, block)) + size) * (times - 1)
        if removed <= len(marker) + 1 or not any(map(str.strip, block)):
            continue
        out += lines[position : start + size]
        out.append(marker)
        position = start + size * times
    if not out:
        return text
    out += lines[position:]
    return "\n".join(out)


def _periodic_runs(lines: list[str]) -> list[tuple[int, int, int]]:
    """Every stretch of lines that repeats with a period of `size` lines, for each size up to
    MAX_BLOCK_LINES: (first line, size, length), where lines[j] == lines[j + size] for the
    `length` lines j from the first on, and length >= size (at least one whole repeat).

    For each size one pass in C compares every line with the line `size` further on, and a
    substring search finds the stretches long enough, so the text is looked at a fixed number of
    times whatever it holds.
    """
    runs: list[tuple[int, int, int]] = []
    for size in range(1, min(MAX_BLOCK_LINES, len(lines) - 1) + 1):
        same = bytes(map(eq, lines, islice(lines, size, None)))
        whole = b"\x01" * size
        start = same.find(whole)
        while start != -1:
            end = same.find(b"\x00", start)
            if end == -1:
                end = len(same)
            runs.append((start, size, end - start))
            start = same.find(whole, end)
    runs.sort()
    return runs


def _marker(first: str, size: int, more: int) -> str:
    """The line that stands for `more` further copies, indented like the block's first line."""
    indent = first[: len(first) - len(first.lstrip())]
    what = "previous line" if size == 1 else f"previous {size} lines"
    plural = "time" if more == 1 else "times"
    return f"{indent}[{what} repeated {more} more {plural}]"


def shorten_separators(text: str) -> str:
    """Each run of MIN_SEPARATOR_RUN or more of one separator character becomes `[=×80]`: the
    character and how many there were. Diffstat graphs are left alone."""
    for char in SEPARATORS:
        if char * MIN_SEPARATOR_RUN in text:
            text = _shorten_runs(text, char)
    return text


def _shorten_runs(text: str, char: str) -> str:
    runs = _RUNS[char]
    if char != "-" or "|" not in text:
        return runs.sub(_counted, text)
    # Only a run of `-` can end a diffstat graph; lines holding one are looked at one by one.
    return "\n".join(
        [line if _DIFFSTAT.search(line) else runs.sub(_counted, line) for line in text.split("\n")]
    )


def _counted(match: re.Match[str]) -> str:
    run = match.group(0)
    return f"[{run[0]}×{len(run)}]"


def condense(text: str) -> str:
    """Both reversible steps: repeats folded first, while lines are still as sent."""
    return shorten_separators(fold_repeats(text))
