"""Reversible shortening of command output: lines and blocks of lines repeated back to back.

What is removed is written as an explicit count, so the original text can be rebuilt from the
result and a reader learns from it all the original says. Each distinct line that appears is kept
byte for byte, so every fact on a line survives; the work is linear in the text.

Long runs of one separator character (`=====`) are not counted the same way: a tokenizer spends
one token on a run of 80 `=`, and `[=×80]` costs about five (see README).
"""

from __future__ import annotations

from itertools import islice
from operator import eq

# The longest block of lines whose consecutive repeats are folded (a recursion's frames).
MAX_BLOCK_LINES = 16


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
