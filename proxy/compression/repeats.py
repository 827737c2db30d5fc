"""Reversible shortening of command output: repeated lines and blocks, and long separator runs.

Every step writes what it removed as an explicit count, so the original text can be rebuilt from
the result and a reader learns from it all the original says. Each distinct line that appears is
kept byte for byte (the separator step only rewrites a run of one decoration character as the
character and its count), so every fact on a line survives; both run in time linear in the text.
"""

from __future__ import annotations

import re

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

    A run is folded only when the marker is shorter than the copies it stands for; blank lines
    are never a block of their own (the blank-line step already collapses them).
    """
    lines = text.split("\n")
    if len(set(lines)) == len(lines):
        return text
    following = _next_same(lines)
    out: list[str] = []
    index = 0
    total = len(lines)
    while index < total:
        folded = _fold_at(lines, following, index)
        if folded is None:
            out.append(lines[index])
            index += 1
            continue
        size, times, marker = folded
        out += lines[index : index + size]
        out.append(marker)
        index += size * times
    return "\n".join(out)


def _next_same(lines: list[str]) -> list[int]:
    """For each line, the index of the next line equal to it, or -1."""
    following = [-1] * len(lines)
    last: dict[str, int] = {}
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        following[index] = last.get(line, -1)
        last[line] = index
    return following


def _fold_at(lines: list[str], following: list[int], index: int) -> tuple[int, int, str] | None:
    """The fold of the run starting at `index`: block size, times it appears, marker; or None.

    The candidate block sizes are the distances to the next copies of this line, nearest first,
    up to MAX_BLOCK_LINES, so a line with no copy close by costs one look.
    """
    if not lines[index].strip():
        return None
    other = following[index]
    while other != -1 and other - index <= MAX_BLOCK_LINES:
        size = other - index
        block = lines[index : index + size]
        times = 2
        while lines[index + size * (times - 1) : index + size * times] == block:
            times += 1
        times -= 1
        if times > 1:
            marker = _marker(lines[index], size, times - 1)
            removed = sum(map(len, block)) + size
            if removed * (times - 1) > len(marker) + 1:
                return size, times, marker
        other = following[other]
    return None


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
