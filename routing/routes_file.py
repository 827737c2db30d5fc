"""Route lists as JSON (the HEADROOM_UPSTREAM_ROUTES format, SPEC §2): read, validate, write, apply.

import_routes and export_routes share this module, so what one prints the other reads back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from routing import fallbacks
from routing.models import UpstreamRoute


@dataclass(frozen=True)
class Kind:
    description: str
    accepts: Callable[[Any], bool]


def _is_number(value: Any) -> bool:
    # JSON true/false arrive as bool, which Python also counts as int.
    return isinstance(value, int | float) and not isinstance(value, bool)


TEXT = Kind("a string", lambda value: isinstance(value, str))
FLAG = Kind("true or false", lambda value: isinstance(value, bool))
COUNT = Kind("a whole number", lambda value: _is_number(value) and isinstance(value, int))
COUNT_OR_NULL = Kind(
    "a whole number, or null",
    lambda value: value is None or COUNT.accepts(value),
)
SECONDS = Kind(
    "a number of seconds greater than 0, or null",
    lambda value: value is None or (_is_number(value) and math.isfinite(value) and value > 0),
)

# Every key of an entry with its JSON type, in the order export_routes writes them.
KEYS: dict[str, Kind] = {
    "model_prefix": TEXT,
    "upstream": TEXT,
    "protocol": TEXT,
    "auth": TEXT,
    "strip_prefix": FLAG,
    "compression": TEXT,
    "compression_min_bytes": COUNT_OR_NULL,
    "cache_ttl": COUNT,
    "connect_timeout": SECONDS,
    "read_timeout": SECONDS,
    "allowed_paths": TEXT,
    "allowed_methods": TEXT,
    "forward_account_headers": FLAG,
    "idle_timeout": SECONDS,
    "retries": COUNT,
    "retry_any_surface": FLAG,
    "fallback": TEXT,
    "enabled": FLAG,
    "notes": TEXT,
}
REQUIRED = "model_prefix"


class RoutesFileError(Exception):
    """The text is not a valid route list; `problems` has one line per problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def __str__(self) -> str:
        total = self.created + self.updated + self.unchanged
        return (
            f"Imported {total} route{'s' if total != 1 else ''}: {self.created} created, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.deleted} deleted."
        )


def dumps(routes: Iterable[UpstreamRoute]) -> str:
    entries = [{key: getattr(route, key) for key in KEYS} for route in routes]
    return json.dumps(entries, indent=2, ensure_ascii=False)


def loads(text: str) -> list[UpstreamRoute]:
    """Unsaved, validated routes in file order; RoutesFileError names every bad entry."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RoutesFileError([f"not valid JSON: {exc}"]) from None
    if not isinstance(data, list):
        raise RoutesFileError(["the routes must be a JSON list of objects"])
    routes: list[UpstreamRoute] = []
    problems: list[str] = []
    # Entries are counted from 1, as a person reading the file counts them: "entry 2" is the second.
    for number, entry in enumerate(data, start=1):
        route, errors = read_entry(entry)
        routes.append(route)
        problems.extend(f"entry {number}: {error}" for error in errors)
    if problems:
        raise RoutesFileError(problems)
    return routes


def read_entry(entry: Any) -> tuple[UpstreamRoute, list[str]]:
    """One entry as an unsaved route, checked by type and then by the model's own validation."""
    if not isinstance(entry, dict):
        return UpstreamRoute(), ["must be a JSON object"]
    errors = [f"{key}: unknown key (known: {', '.join(KEYS)})" for key in entry if key not in KEYS]
    skip = {key for key, kind in KEYS.items() if key in entry and not kind.accepts(entry[key])}
    errors.extend(f"{key}: must be {KEYS[key].description}" for key in KEYS if key in skip)
    if REQUIRED not in entry:
        errors.append(f"{REQUIRED}: this key is required")
        skip.add(REQUIRED)
    route = UpstreamRoute(**{key: entry[key] for key in KEYS if key in entry and key not in skip})
    try:
        route.full_clean(exclude=[*skip, "position"])
    except ValidationError as exc:
        errors.extend(_describe(exc))
    return route, errors


def _describe(error: ValidationError) -> list[str]:
    lines: list[str] = []
    for field, messages in error.message_dict.items():
        label = "" if field == NON_FIELD_ERRORS else f"{field}: "
        lines.extend(f"{label}{message}" for message in messages)
    return lines


def apply(incoming: list[UpstreamRoute], *, replace: bool) -> ImportSummary:
    """Write validated routes in one transaction.

    An entry updates the existing route with the same model prefix (case-insensitive; the k-th
    entry with a prefix pairs with the k-th such route by position) and is otherwise created.
    Merging keeps every existing route where it is and appends new ones after the last; replacing
    deletes the routes the list does not name and orders the rest as the list does. Rows whose
    values do not change are not written, so a repeated import is a no-op.
    """
    with transaction.atomic():
        existing = list(UpstreamRoute.objects.order_by("position", "id"))
        pairs = pair_with_existing(incoming, existing)
        positions = replace_positions(pairs) if replace else merge_positions(pairs, existing)
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for (new, old), position in zip(pairs, positions, strict=True):
            counts[_write(new, old, position)] += 1
        kept = {old.pk for _new, old in pairs if old is not None}
        dropped = [route.pk for route in existing if route.pk not in kept] if replace else []
        UpstreamRoute.objects.filter(pk__in=dropped).delete()
        check_fallbacks()
    return ImportSummary(deleted=len(dropped), **counts)


def check_fallbacks() -> None:
    """Fallbacks are judged on the table the import leaves (a merge keeps routes the file does
    not name); raising rolls the whole import back."""
    table = list(UpstreamRoute.objects.order_by("position", "id"))
    problems = [
        f"{route.model_prefix}: fallback: {problem}"
        for route in table
        if (problem := fallbacks.problem(route, table))
    ]
    if problems:
        raise RoutesFileError(problems)


def pair_with_existing(
    incoming: list[UpstreamRoute], existing: list[UpstreamRoute]
) -> list[tuple[UpstreamRoute, UpstreamRoute | None]]:
    unclaimed: dict[str, list[UpstreamRoute]] = {}
    for route in existing:
        unclaimed.setdefault(route.model_prefix.lower(), []).append(route)
    pairs = []
    for new in incoming:
        same_prefix = unclaimed.get(new.model_prefix.lower())
        pairs.append((new, same_prefix.pop(0) if same_prefix else None))
    return pairs


def merge_positions(
    pairs: list[tuple[UpstreamRoute, UpstreamRoute | None]], existing: list[UpstreamRoute]
) -> list[int]:
    """Matched routes stay where they are; new ones follow the last existing route in list order."""
    following = max((route.position for route in existing), default=-1) + 1
    positions = []
    for _new, old in pairs:
        if old is not None:
            positions.append(old.position)
        else:
            positions.append(following)
            following += 1
    return positions


def replace_positions(pairs: list[tuple[UpstreamRoute, UpstreamRoute | None]]) -> list[int]:
    """Positions that order the routes as the list does, keeping every position already in order.

    Routes sort by (position, id), so an existing route keeps its position while it still sorts
    after the previous entry; otherwise it, like every new route (whose id will be the highest),
    takes the previous position plus one. Re-importing an export therefore changes nothing.
    """
    positions: list[int] = []
    previous: tuple[int, float] | None = None
    for _new, old in pairs:
        if old is not None and (previous is None or (old.position, old.pk) > previous):
            previous = (old.position, old.pk)
        else:
            position = 0 if previous is None else previous[0] + 1
            previous = (position, old.pk if old is not None else math.inf)
        positions.append(previous[0])
    return positions


def _write(new: UpstreamRoute, old: UpstreamRoute | None, position: int) -> str:
    if old is None:
        new.position = position
        new.save()
        return "created"
    if old.position == position and all(getattr(old, k) == getattr(new, k) for k in KEYS):
        return "unchanged"
    for key in KEYS:
        setattr(old, key, getattr(new, key))
    old.position = position
    old.save()
    return "updated"
