"""Lossy but safe thinning of JSON arrays of many similar objects.

Kept: the first and last items, every item that looks like an error, and every outlier (a
different shape, a rare value, a number far from the rest). Each run of left-out items becomes one
string marker saying how many were left out, and the first marker names their keys.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from itertools import chain, compress, repeat
from operator import eq, itemgetter, lt, ne, not_, sub
from statistics import median
from typing import Any

from proxy.compression import pinning

HEAD_ITEMS = 3
TAIL_ITEMS = 2
# Shorter arrays are left whole: too little to gain for the information lost.
MIN_ITEMS = 10
# A key whose commonest value covers this share of items makes every other value rare.
DOMINANT_SHARE = 0.9
# A number further than this many median absolute deviations from the median is an outlier.
OUTLIER_DEVIATIONS = 8.0
KEYS_NAMED = 20
# Nested containers deeper than this are not searched for error fields.
ERROR_SEARCH_DEPTH = 3

# Member names whose non-empty value reports a problem (`error`, `lastError`, `failures`, ...).
_ERROR_NAME = re.compile(r"error|exception|fault|fail(?!over)|traceback|stack_?trace|panic|fatal")
# Member names whose value is a verdict, and the verdicts that report a problem. The value is
# lowered and searched case-sensitively: with IGNORECASE the search tries every alternative at every
# character (a second per megabyte of a long value), without it only where one can begin.
_VERDICT_NAMES = frozenset(
    {"status", "state", "level", "severity", "result", "outcome", "conclusion", "health", "phase"}
)
_BAD_VERDICT = re.compile(
    r"error|fail|fatal|crit|exception|panic|timeout|timed.?out|denied|refused|reject|invalid"
    r"|unhealthy|crash|abort|cancel|unavailable|degraded|down\b|warn|alert|emerg"
)
# Member names holding an HTTP status or a process exit code.
_HTTP_NAMES = frozenset(
    {"status", "status_code", "statuscode", "http_status", "httpstatus", "code", "response_code"}
)
_EXIT_NAMES = frozenset({"exit_code", "exitcode", "returncode", "return_code", "exit_status"})
# Member names that are false when something went wrong.
_SUCCESS_NAMES = frozenset({"ok", "success", "succeeded", "successful", "passed", "healthy"})
_CHECKED_NAMES = _VERDICT_NAMES | _HTTP_NAMES | _EXIT_NAMES | _SUCCESS_NAMES
_CONTAINERS = frozenset({dict, list})
_DICT_ONLY = frozenset({dict})
_NUMBERS = frozenset({int, float})
_SCALARS = frozenset({str, int, float, bool, type(None)})
_EMPTY_WORDS = frozenset({"", "none", "null", "nil", "false", "0", "ok", "n/a"})


def looks_like_error(value: Any, depth: int = 0) -> bool:
    """Whether an item, or a container nested in it, carries an error-like field."""
    if isinstance(value, list):
        return depth < ERROR_SEARCH_DEPTH and any(looks_like_error(v, depth + 1) for v in value)
    if not isinstance(value, dict):
        return False
    if _quiet_names(tuple(value)):
        # No member name here can report a problem, so only nested containers need a look.
        return depth < ERROR_SEARCH_DEPTH and any(
            isinstance(member, dict | list) and looks_like_error(member, depth + 1)
            for member in value.values()
        )
    return any(_is_error_member(key, member, depth) for key, member in value.items())


def _is_error_member(key: str, value: Any, depth: int) -> bool:
    if isinstance(value, dict | list):
        if _error_name(key) and value:
            return True
        return depth < ERROR_SEARCH_DEPTH and looks_like_error(value, depth + 1)
    name = key.lower()
    if isinstance(value, bool):
        return (name in _SUCCESS_NAMES and value is False) or (value and _error_name(key))
    if isinstance(value, int | float):
        if name in _HTTP_NAMES and 400 <= value <= 599:
            return True
        if name in _EXIT_NAMES and value != 0:
            return True
        return value != 0 and _error_name(key)
    if isinstance(value, str):
        if name in _VERDICT_NAMES and _BAD_VERDICT.search(value.lower()):
            return True
        return _error_name(key) and value.strip().lower() not in _EMPTY_WORDS
    return False


@lru_cache(maxsize=4096)
def _error_name(key: str) -> bool:
    # Arrays repeat the same few member names thousands of times; decide each name once.
    return bool(_ERROR_NAME.search(key.lower()))


@lru_cache(maxsize=4096)
def _quiet_names(names: tuple[str, ...]) -> bool:
    """Whether none of these member names is one whose value can report a problem."""
    return not any(_error_name(name) or name.lower() in _CHECKED_NAMES for name in names)


def thin_array(items: list[Any], terms: tuple[str, ...] = ()) -> list[Any] | None:
    """The array with similar items left out, or None when it is not a thinnable array.

    Items mentioning one of `terms` (what the request asks about) are kept like errors.
    """
    if len(items) < MIN_ITEMS:
        return None
    shapes = [tuple(item) if isinstance(item, dict) else None for item in items]
    shape = _common_shape(shapes)
    if shape is None:
        return None
    keep = _kept_indexes(items, shapes, shape)
    others = [index for index in range(len(items)) if index not in keep]
    keep |= pinning.pinned_items(items, others, terms)
    runs = _left_out_runs(keep, len(items))
    if not runs:
        return None
    return _with_markers(items, runs, shape)


def _common_shape(shapes: list[tuple[str, ...] | None]) -> tuple[str, ...] | None:
    """The key set most items share, when the array is many similar objects."""
    counts = Counter(shapes)
    counts.pop(None, None)
    if not counts:
        return None
    shape, count = counts.most_common(1)[0]
    # Most items must be objects with exactly these keys, or the array is not "many similar".
    if count * 2 < len(shapes) or not shape:
        return None
    return shape


def _kept_indexes(
    items: list[Any], shapes: list[tuple[str, ...] | None], shape: tuple[str, ...]
) -> set[int]:
    total = len(items)
    keep = set(range(min(HEAD_ITEMS, total))) | set(range(max(0, total - TAIL_ITEMS), total))
    alike = list(map(eq, shapes, repeat(shape)))
    keep.update(compress(range(total), map(not_, alike)))
    similar = list(compress(range(total), alike))
    # Items of the common shape are checked a column at a time: one look at each member name
    # decides whether its values need reading at all.
    rows = list(map(items.__getitem__, similar))
    for key in shape:
        values = list(map(itemgetter(key), rows))
        kinds = set(map(type, values))
        keep.update(_error_members(similar, values, kinds, key, 0))
        keep.update(_outliers(similar, values, kinds))
    return keep


def _error_members(
    indexes: list[int], values: list[Any], kinds: set[type], key: str, depth: int
) -> list[int]:
    """Items whose value for `key` is error-like, exactly as `looks_like_error` decides.

    `kinds` is the set of the values' types.
    """
    if not _quiet_names((key,)):
        return _error_verdicts(indexes, values, kinds, key, depth)
    # A quiet name can only hide an error in a nested container; nested objects of one shape are
    # searched column by column in turn.
    if depth >= ERROR_SEARCH_DEPTH or not kinds & _CONTAINERS:
        return []
    if kinds == _DICT_ONLY:
        names = set(map(tuple, values))
        if len(names) == 1:
            shape = names.pop()
            if _quiet_names(shape) and _CONTAINERS.isdisjoint(
                map(type, chain.from_iterable(map(dict.values, values)))
            ):
                # Objects of quiet names and scalars only (an address): nothing to look at.
                return []
            return _column_errors(indexes, values, shape, depth + 1)
    found = []
    shapes: dict[tuple[str, ...], list[int]] = {}
    for position, value in enumerate(values):
        if isinstance(value, dict):
            shapes.setdefault(tuple(value), []).append(position)
        elif isinstance(value, list) and looks_like_error(value, depth + 1):
            found.append(indexes[position])
    for shape, positions in shapes.items():
        group = [indexes[position] for position in positions]
        members = [values[position] for position in positions]
        found += _column_errors(group, members, shape, depth + 1)
    return found


def _column_errors(
    indexes: list[int], rows: list[dict[str, Any]], shape: tuple[str, ...], depth: int
) -> list[int]:
    """Items whose object of this shape holds an error-like member, one member name at a time."""
    found: list[int] = []
    for name in shape:
        values = list(map(itemgetter(name), rows))
        found += _error_members(indexes, values, set(map(type, values)), name, depth)
    return found


def _error_verdicts(
    indexes: list[int], values: list[Any], kinds: set[type], key: str, depth: int
) -> list[int]:
    """Items whose value for a member name that can report a problem is error-like."""
    if len(kinds) != 1 or not kinds <= _SCALARS:
        return [i for i, v in zip(indexes, values, strict=True) if _is_error_member(key, v, depth)]
    # A column of one scalar type holds few distinct values ("completed", "failure"), and the
    # verdict depends on the value alone, so each distinct value is judged once.
    bad = {value for value in set(values) if _is_error_member(key, value, depth)}
    if not bad:
        return []
    return list(compress(indexes, map(bad.__contains__, values)))


def _outliers(indexes: list[int], values: list[Any], kinds: set[type]) -> list[int]:
    """Items whose value for a key is rare among the others, or a number far from them."""
    if not kinds:
        return []
    if kinds <= _NUMBERS:
        return _numeric_outliers(indexes, values)
    if not kinds <= _SCALARS:
        return []
    # Each distinct value but the commonest takes at least one item, which bounds the commonest
    # value's count: columns of ids or names are done without counting anything.
    distinct = len(set(values))
    if distinct == 1 or len(values) - (distinct - 1) < DOMINANT_SHARE * len(values):
        return []
    common, count = Counter(values).most_common(1)[0]
    if count < DOMINANT_SHARE * len(values):
        return []
    return list(compress(indexes, map(ne, values, repeat(common))))


def _numeric_outliers(indexes: list[int], values: list[float]) -> list[int]:
    try:
        middle = median(values)
        distances = list(map(abs, map(sub, values, repeat(middle))))
        spread = median(distances)
    except OverflowError:
        # Integers too large for a float have no median here; such a column has no outliers.
        return []
    if spread == 0:
        return []
    limit = OUTLIER_DEVIATIONS * spread
    return list(compress(indexes, map(lt, repeat(limit), distances)))


def _left_out_runs(keep: set[int], total: int) -> list[range]:
    """Maximal runs of items not kept; a lone item is kept, since its marker would cost as much."""
    runs: list[range] = []
    start = None
    for index in range(total + 1):
        if index < total and index not in keep:
            start = index if start is None else start
            continue
        if start is not None and index - start > 1:
            runs.append(range(start, index))
        start = None
    return runs


def _with_markers(items: list[Any], runs: list[range], shape: tuple[str, ...]) -> list[Any]:
    left_out = sum(len(run) for run in runs)
    named = ", ".join(shape[:KEYS_NAMED]) + (
        f" and {len(shape) - KEYS_NAMED} more" if len(shape) > KEYS_NAMED else ""
    )
    result: list[Any] = []
    position = 0
    for number, run in enumerate(runs):
        result.extend(items[position : run.start])
        if number == 0:
            result.append(
                f"[{len(run)} similar items omitted here; {left_out} of {len(items)} omitted in "
                f"all, errors and outliers kept; each omitted item has the keys: {named}]"
            )
        else:
            result.append(f"[{len(run)} similar items omitted here]")
        position = run.stop
    result.extend(items[position:])
    return result
