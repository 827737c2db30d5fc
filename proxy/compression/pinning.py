"""Which lines and array items mention what the request asks about, so that no compressor leaves
them out.

A term that turns up in most of the lines or items says nothing about which ones matter (a grep
pattern is in every hit), so such terms pin nothing and the usual rules decide.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections import Counter
from itertools import accumulate
from typing import Any

import orjson
from ahocorasick_rs import AhoCorasick, MatchKind

# A term in more than this share of the lines or items (and more than MIN_LIMIT of them) pins
# none of them: it names what the whole output is about, not the part that was asked for.
MAX_SHARE = 0.25
MIN_LIMIT = 10
# A git log entry: its lines go together, from `commit <id>` to the next one.
_COMMIT = re.compile(r"commit [0-9a-f]{7,40}\b")
RECORD_LINES = 40


def _limit(total: int) -> float:
    return max(MIN_LIMIT, MAX_SHARE * total)


def _matcher(terms: tuple[str, ...]) -> AhoCorasick:
    return AhoCorasick(list(terms), matchkind=MatchKind.Standard)


def pinned_lines(text: str, lines: list[str], terms: tuple[str, ...]) -> set[int]:
    """The indexes of the lines holding a term (case-insensitive), with their git log entries."""
    if not terms:
        return set()
    lowered = text.lower()
    if len(lowered) != len(text):
        # Lower-casing changed some lengths (rare letters), so offsets are found line by line.
        return _pinned_by_line(lines, terms)
    # Offset of each line's first character, to turn a match's offset into its line.
    starts = list(accumulate((len(line) + 1 for line in lines[:-1]), initial=0))
    hits: dict[int, set[int]] = {}
    for term, start, end in _matcher(terms).find_matches_as_indexes(lowered, overlapping=True):
        if _whole(lowered, start, end):
            hits.setdefault(term, set()).add(bisect_right(starts, start) - 1)
    limit = _limit(len(lines))
    found: set[int] = set()
    for line_numbers in hits.values():
        if len(line_numbers) <= limit:
            found |= line_numbers
    return _with_records(lines, found) if found else found


def _pinned_by_line(lines: list[str], terms: tuple[str, ...]) -> set[int]:
    counts: Counter[str] = Counter()
    where: dict[str, list[int]] = {}
    for number, line in enumerate(lines):
        low = line.lower()
        for term in terms:
            if _contains(low, term):
                counts[term] += 1
                where.setdefault(term, []).append(number)
    limit = _limit(len(lines))
    found = {n for term, numbers in where.items() if counts[term] <= limit for n in numbers}
    return _with_records(lines, found) if found else found


def _whole(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is not part of a longer word or number ("main" in "maintainers")."""
    return not (start and text[start - 1].isalnum()) and not (
        end < len(text) and text[end].isalnum()
    )


def _contains(text: str, term: str) -> bool:
    start = text.find(term)
    while start != -1:
        if _whole(text, start, start + len(term)):
            return True
        start = text.find(term, start + 1)
    return False


def _with_records(lines: list[str], found: set[int]) -> set[int]:
    """Pinned lines plus the rest of each git log entry they belong to."""
    if not any(_COMMIT.match(line) for line in lines[:5]):
        return found
    heads = [number for number, line in enumerate(lines) if _COMMIT.match(line)]
    records: set[int] = set()
    for line in found:
        index = bisect_right(heads, line) - 1
        if index < 0:
            continue
        end = heads[index + 1] if index + 1 < len(heads) else len(lines)
        records.update(range(heads[index], min(end, heads[index] + RECORD_LINES)))
    return found | records


def pinned_items(items: list[Any], candidates: list[int], terms: tuple[str, ...]) -> set[int]:
    """The indexes among `candidates` of array items whose JSON holds a term (case-insensitive)."""
    if not terms or not candidates:
        return set()
    matcher = _matcher(terms)
    hits: dict[int, list[int]] = {}
    for index in candidates:
        text = _text_of(items[index]).lower()
        matches = matcher.find_matches_as_indexes(text, overlapping=True)
        for term in {term for term, start, end in matches if _whole(text, start, end)}:
            hits.setdefault(term, []).append(index)
    limit = _limit(len(items))
    return {index for found in hits.values() if len(found) <= limit for index in found}


def _text_of(item: Any) -> str:
    try:
        return orjson.dumps(item).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(item, ensure_ascii=False)
