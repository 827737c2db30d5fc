"""Every figure of the savings dashboard, computed from the request log as small dataclasses.

Sums come from the request log's hourly and daily rollup (`requestlog.rollup`), kept by the log
writer on every database; every figure derives from those `Measures`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import Any

from django.db import connections, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from requestlog import rollup
from requestlog.models import CostSource, RequestLog, Rollup
from routing.families import Family

HOUR = timedelta(hours=1)
# The last 24 whole hours, or the last 7 / 30 whole UTC days, the current hour or day included.
PRESETS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
# Ranges up to this long are drawn in hourly buckets, longer ones in daily buckets.
HOURLY_UP_TO = timedelta(hours=48)
MAX_CUSTOM_DAYS = 366
USD_QUANTUM = Decimal("0.0000000001")
# Model names shown per route, by requests; the others are summed under OTHER_MODELS.
MODELS_PER_ROUTE = 50
OTHER_MODELS = "(other)"
DIMENSIONS = {
    "route": "route_label",
    "model": "model",
    "family": "family",
    "host": "upstream_host",
    "team": "team",
}
FAMILIES = tuple(Family.values)
# Status filter values and the [low, high) range of statuses each one keeps.
STATUS_CLASSES = {
    "ok": (0, 400),
    "error": (400, 1000),
    "2xx": (200, 300),
    "3xx": (300, 400),
    "4xx": (400, 500),
    "5xx": (500, 600),
}
RECENT_LIMIT = 50

# What the page prints under each figure: how it is computed, as SQL over requestlog_requestlog
# (the rows in the chosen range that pass the filters).
NOTES = {
    "requests": "COUNT(*)",
    "error_rate": "COUNT(*) FILTER (WHERE status >= 400) / COUNT(*)",
    "input_tokens": "SUM(input_tokens + cache_read_tokens + cache_write_tokens), as billed",
    "output_tokens": "SUM(output_tokens), as billed",
    "spend": (
        "SUM(cost_usd) WHERE cost_source = 'priced'; rows priced from an estimate "
        "(cost_source = 'estimated') are summed apart; rows of a model without a price "
        "(cost_source = 'unpriced') are counted, never shown as $0"
    ),
    "tokens_saved": (
        "SUM(tokens_before - tokens_after) WHERE both are set AND tokens_before > tokens_after; "
        "share = tokens saved / (billed input tokens + tokens saved)"
    ),
    "saved_usd": "SUM(saved_usd) WHERE cost_source = 'priced'; estimated rows apart",
    "cache_hit_rate": "COUNT(*) FILTER (WHERE cache_hit) / COUNT(*)",
    "overhead": (
        "nearest-rank 50th / 95th percentile of overhead_ms, read from COUNT(*) per "
        "histogram bin of overhead_ms and interpolated inside its bin (≈, shown with the bin)"
    ),
    "series": "the sums above GROUP BY the hour (or day, for ranges over 48 h) of created, UTC",
    "breakdown": "the sums above GROUP BY the column; sort by any column",
    "recent": "SELECT … ORDER BY created DESC, id DESC LIMIT 50",
}


@dataclass(frozen=True)
class Range:
    name: str  # 24h, 7d, 30d or custom
    start: datetime  # hour-aligned, UTC, inclusive
    end: datetime  # hour-aligned, UTC, exclusive

    @property
    def bucket(self) -> str:
        """The series' bucket: hours up to HOURLY_UP_TO, days beyond (always day-aligned)."""
        return "hour" if self.end - self.start <= HOURLY_UP_TO else "day"

    @property
    def grain(self) -> str:
        """The coarsest rollup grain whose buckets tile the range exactly."""
        return "day" if self.start.hour == 0 and self.end.hour == 0 else "hour"


@dataclass(frozen=True)
class Filters:
    range: Range
    family: str = ""
    route: str = ""
    model: str = ""
    team: str = ""
    status: str = ""  # a STATUS_CLASSES key or a three-digit status

    @property
    def equalities(self) -> dict[str, str]:
        """Request-log column → required value, for the filters that are set."""
        values = {
            "family": self.family,
            "route_label": self.route,
            "model": self.model,
            "team": self.team,
        }
        return {column: value for column, value in values.items() if value}

    @property
    def status_range(self) -> tuple[int, int] | None:
        if self.status in STATUS_CLASSES:
            return STATUS_CLASSES[self.status]
        if self.status.isdigit():
            return int(self.status), int(self.status) + 1
        return None

    def keeps(self, key: Mapping[str, object]) -> bool:
        """Whether a group of rows with these key values passes the filters."""
        if any(key[column] != value for column, value in self.equalities.items()):
            return False
        bounds = self.status_range
        return bounds is None or bounds[0] <= int(key["status"]) < bounds[1]  # type: ignore[call-overload]

    def as_params(self) -> dict[str, str]:
        """The query-string parameters that reproduce these filters."""
        params = {"range": self.range.name}
        if self.range.name == "custom":
            params["from"] = self.range.start.date().isoformat()
            params["to"] = (self.range.end - timedelta(days=1)).date().isoformat()
        for name in ("family", "route", "model", "team", "status"):
            if value := getattr(self, name):
                params[name] = value
        return params


def parse_filters(params: Mapping[str, str], now: datetime | None = None) -> Filters:
    """Filters from a query string; anything unreadable falls back to its default."""
    status = params.get("status", "")
    if status not in STATUS_CLASSES and not (status.isdigit() and len(status) == 3):
        status = ""
    family = params.get("family", "")
    return Filters(
        range=parse_range(params, now or timezone.now()),
        family=family if family in FAMILIES else "",
        route=params.get("route", "")[:200],
        model=params.get("model", "")[:200],
        team=params.get("team", "")[:100],
        status=status,
    )


def parse_range(params: Mapping[str, str], now: datetime) -> Range:
    name = params.get("range", "24h")
    if name == "custom":
        custom = _custom_range(params.get("from", ""), params.get("to", ""))
        if custom is not None:
            return custom
        name = "24h"
    name = name if name in PRESETS else "24h"
    # Whole hours (or days), the current one included, so a rollup grain answers exactly.
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + HOUR
    if PRESETS[name] > HOURLY_UP_TO:
        end = end.replace(hour=0) + timedelta(days=1) if end.hour else end
    return Range(name, end - PRESETS[name], end)


def _custom_range(first: str, last: str) -> Range | None:
    try:
        start_day, end_day = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        return None
    start_day, end_day = min(start_day, end_day), max(start_day, end_day)
    start_day = max(start_day, end_day - timedelta(days=MAX_CUSTOM_DAYS - 1))
    start = datetime.combine(start_day, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(end_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return Range("custom", start, end)


@dataclass
class Measures:
    """Sums over a set of request-log rows; see rollup.MEASURES for each one's definition."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    engine_requests: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    tokens_saved: int = 0
    cache_hits: int = 0
    priced_requests: int = 0
    estimated_requests: int = 0
    unpriced_requests: int = 0
    cost_priced: Decimal = Decimal(0)
    cost_estimated: Decimal = Decimal(0)
    saved_priced: Decimal = Decimal(0)
    saved_estimated: Decimal = Decimal(0)
    overhead_sum: float = 0.0
    overhead_bins: tuple[int, ...] = field(default_factory=lambda: (0,) * len(rollup.BINS))

    def __add__(self, other: Measures) -> Measures:
        sums = {name: getattr(self, name) + getattr(other, name) for name in _SUMMED}
        bins = tuple(a + b for a, b in zip(self.overhead_bins, other.overhead_bins, strict=True))
        return Measures(**sums, overhead_bins=bins)

    @classmethod
    def from_sums(cls, sums: Mapping[str, object]) -> Measures:
        """From one group of rollup sums (None, for an empty group, counts as 0)."""
        values: dict[str, object] = {}
        for name in _SUMMED:
            raw = sums.get(name) or 0
            # PostgreSQL sums integers as numeric, which arrives as Decimal.
            values[name] = _usd(raw) if name in _USD_FIELDS else _KINDS[name](raw)  # type: ignore[call-overload, arg-type]
        values["overhead_bins"] = tuple(int(sums.get(name) or 0) for name in rollup.BINS)  # type: ignore[call-overload]
        return cls(**values)  # type: ignore[arg-type]


_USD_FIELDS = {"cost_priced", "cost_estimated", "saved_priced", "saved_estimated"}
# Field names looked up once: the page adds a few thousand Measures together.
_SUMMED = tuple(f.name for f in fields(Measures) if f.name != "overhead_bins")
_KINDS = {name: float if name == "overhead_sum" else int for name in _SUMMED}


def _usd(value: object) -> Decimal:
    # SQLite sums REAL values; ten places is the precision RequestLog stores.
    return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(USD_QUANTUM)


def total(groups: Iterable[Measures]) -> Measures:
    result = Measures()
    for group in groups:
        result = result + group
    return result


@dataclass(frozen=True)
class Percentile:
    """An overhead percentile read from the histogram: ≈ value, the true value in [low, high)."""

    value: float | None  # None: no rows
    low: float
    high: float | None  # None: the open last bin


def percentile(bins: tuple[int, ...], fraction: float) -> Percentile:
    """Nearest-rank percentile, placed linearly inside the bin that holds that rank."""
    count = sum(bins)
    if count == 0:
        return Percentile(None, 0.0, None)
    rank = max(1, math.ceil(fraction * count))
    lows = (0.0, *rollup.OVERHEAD_EDGES)
    highs: tuple[float | None, ...] = (*rollup.OVERHEAD_EDGES, None)
    seen = 0
    for in_bin, low, high in zip(bins, lows, highs, strict=True):
        if seen + in_bin >= rank:
            if high is None:
                return Percentile(low, low, None)
            return Percentile(low + (high - low) * (rank - seen) / in_bin, low, high)
        seen += in_bin
    raise AssertionError("rank beyond the histogram")  # unreachable: rank <= count


@dataclass(frozen=True)
class Figures:
    """Everything the page shows for one set of rows (the headline, or one breakdown line)."""

    requests: int
    errors: int
    error_rate: float | None
    input_tokens: int  # billed: uncached + cache reads + cache writes
    uncached_input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    output_tokens: int
    spend: Decimal | None  # None: no row of this set has a price
    spend_estimated: Decimal
    estimated_requests: int
    unpriced_requests: int
    tokens_saved: int
    saved_share: float | None  # of would-be input tokens (billed input + saved)
    saved_usd: Decimal | None
    saved_usd_estimated: Decimal
    cache_hits: int
    cache_hit_rate: float | None
    overhead_p50: Percentile
    overhead_p95: Percentile

    @classmethod
    def of(cls, m: Measures) -> Figures:
        billed_input = m.input_tokens + m.cache_read_tokens + m.cache_write_tokens
        would_be = billed_input + m.tokens_saved
        priced = m.priced_requests > 0
        return cls(
            requests=m.requests,
            errors=m.errors,
            error_rate=_ratio(m.errors, m.requests),
            input_tokens=billed_input,
            uncached_input_tokens=m.input_tokens,
            cache_read_tokens=m.cache_read_tokens,
            cache_write_tokens=m.cache_write_tokens,
            output_tokens=m.output_tokens,
            spend=m.cost_priced if priced else None,
            spend_estimated=m.cost_estimated,
            estimated_requests=m.estimated_requests,
            unpriced_requests=m.unpriced_requests,
            tokens_saved=m.tokens_saved,
            saved_share=_ratio(m.tokens_saved, would_be),
            saved_usd=m.saved_priced if priced else None,
            saved_usd_estimated=m.saved_estimated,
            cache_hits=m.cache_hits,
            cache_hit_rate=_ratio(m.cache_hits, m.requests),
            overhead_p50=percentile(m.overhead_bins, 0.50),
            overhead_p95=percentile(m.overhead_bins, 0.95),
        )


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# Breakdown columns a table can be sorted by, and the value each sorts on (None sorts last).
SORT_KEYS = {
    "key": lambda line: line.key.lower(),
    "requests": lambda line: line.figures.requests,
    "error_rate": lambda line: line.figures.error_rate,
    "input_tokens": lambda line: line.figures.input_tokens,
    "output_tokens": lambda line: line.figures.output_tokens,
    "tokens_saved": lambda line: line.figures.tokens_saved,
    "spend": lambda line: line.figures.spend,
    "saved_usd": lambda line: line.figures.saved_usd,
    "cache_hit_rate": lambda line: line.figures.cache_hit_rate,
    "overhead_p95": lambda line: line.figures.overhead_p95.value,
}


@dataclass(frozen=True)
class Line:
    key: str
    figures: Figures


@dataclass(frozen=True)
class Breakdown:
    dimension: str  # a DIMENSIONS key
    sort: str  # a SORT_KEYS key
    descending: bool
    lines: list[Line]


def breakdown(per_value: Mapping[str, Measures], dimension: str, sort: str = "") -> Breakdown:
    """One table: the sums per value of `dimension`, sorted by `sort`.

    `sort` names a SORT_KEYS column, with a leading "-" for descending; default "-requests".
    """
    lines = sorted((Line(value, Figures.of(m)) for value, m in per_value.items()), key=_by_key)
    name = sort.removeprefix("-")
    if name not in SORT_KEYS:
        name, sort = "requests", "-requests"
    descending = sort.startswith("-")
    return Breakdown(dimension, name, descending, _sorted(lines, name, descending))


def _by_key(line: Line) -> str:
    return line.key


def _sorted(lines: list[Line], name: str, descending: bool) -> list[Line]:
    present = [line for line in lines if SORT_KEYS[name](line) is not None]
    missing = [line for line in lines if SORT_KEYS[name](line) is None]
    present.sort(key=SORT_KEYS[name], reverse=descending)
    return present + missing


@dataclass(frozen=True)
class Point:
    start: datetime
    measures: Measures

    @property
    def figures(self) -> Figures:
        return Figures.of(self.measures)


def series(sums: Mapping[datetime, Measures], span: Range) -> list[Point]:
    """One point per bucket (hour or day) of the range, empty ones included."""
    step = HOUR if span.bucket == "hour" else timedelta(days=1)
    points = []
    moment = span.start
    while moment < span.end:
        points.append(Point(moment, sums.get(moment, Measures())))
        moment += step
    return points


# Sources: the rollup's sums over the range, grouped in the database. The figures of one page
# load come from a handful of aggregate queries over the range's rollup rows, each returning a
# bounded number of groups, so the work in Python does not grow with the rows or the model names.


def _sums() -> dict[str, Sum]:
    return {name: Sum(name) for name in rollup.MEASURES}


def _rollup(grain: str, span: Range) -> QuerySet[Rollup]:
    return Rollup.objects.filter(grain=grain, bucket__gte=span.start, bucket__lt=span.end)


@dataclass(frozen=True)
class ModelBounds:
    """The model names each route shows over a range. Names are the callers' choice, so their
    number is unbounded: a route with more than MODELS_PER_ROUTE names keeps its busiest (most
    requests, then by name) and shows the others as OTHER_MODELS."""

    kept: dict[str, frozenset[str]]  # crowded route → the names it shows
    routes: list[str]  # every route with rows in the range
    models: list[str]  # every name shown in the range, OTHER_MODELS included when used

    def shown_as(self, name: str) -> Q:
        """Rollup rows whose model is shown as `name`. Each row is tested against its own
        route's names only, not against every kept name."""
        crowded = sorted(self.kept)
        if name == OTHER_MODELS:
            grouped = [Q(route_label=r) & ~Q(model__in=sorted(self.kept[r])) for r in crowded]
            return reduce(operator.or_, grouped, Q(pk__in=[]))
        kept_by = [route for route in crowded if name in self.kept[route]]
        return Q(model=name) & (~Q(route_label__in=crowded) | Q(route_label__in=kept_by))

    def shown_sql(self) -> tuple[str, list[Any]]:
        """The model name as shown, as SQL over rollup rows `r`, and its parameters. Both
        databases look values up in an IN list by hash or index, not one by one, so a row
        costs two lookups however many names are kept."""
        if not self.kept:
            return "r.model", []
        crowded = sorted(self.kept)
        pairs = sorted(route + SEPARATOR + name for route in crowded for name in self.kept[route])
        sql = (
            f"CASE WHEN r.route_label IN ({_marks(crowded)}) "
            f"AND r.route_label || %s || r.model NOT IN ({_marks(pairs)}) "
            "THEN %s ELSE r.model END"
        )
        return sql, [*crowded, SEPARATOR, *pairs, OTHER_MODELS]


# Between a route and a model name in the kept pairs: a control character neither holds.
SEPARATOR = "\x1f"


def _marks(values: list[str]) -> str:
    return ", ".join(["%s"] * len(values))


# Each route's busiest names in the range, ranked in the database: `place` 1 is the busiest.
RANKED = """
SELECT route_label, model,
    ROW_NUMBER() OVER (PARTITION BY route_label ORDER BY SUM(requests) DESC, model) AS place,
    COUNT(*) OVER (PARTITION BY route_label) AS names
FROM {table}
WHERE grain = %s AND bucket >= %s AND bucket < %s
GROUP BY route_label, model
"""


def _range_params(span: Range, grain: str) -> list[Any]:
    db = connections[Rollup.objects.db]
    return [grain, *(db.ops.adapt_datetimefield_value(moment) for moment in (span.start, span.end))]


def _table() -> str:
    return connections[Rollup.objects.db].ops.quote_name(Rollup._meta.db_table)


def model_bounds(span: Range) -> ModelBounds:
    """Only MODELS_PER_ROUTE names per route come back, however many the callers sent."""
    sql = f"SELECT route_label, model, names FROM ({RANKED}) AS ranked WHERE place <= %s"
    with connections[Rollup.objects.db].cursor() as cursor:
        cursor.execute(
            sql.format(table=_table()), [*_range_params(span, span.grain), MODELS_PER_ROUTE]
        )
        ranked = cursor.fetchall()
    kept: dict[str, set[str]] = {}
    for route, model, names in ranked:
        if names > MODELS_PER_ROUTE:
            kept.setdefault(route, set()).add(model)
    models = {model for _, model, _ in ranked} | ({OTHER_MODELS} if kept else set())
    return ModelBounds(
        kept={route: frozenset(names) for route, names in kept.items()},
        routes=sorted({route for route, _, _ in ranked}),
        models=sorted(models),
    )


def grouped(filters: Filters, dimension: str) -> dict[str, Measures]:
    """Filtered sums over the range per value of `dimension` (a DIMENSIONS key)."""
    return panel_sums(filters, (dimension,))[dimension]


def breakdown_of(filters: Filters, dimension: str, sort: str = "") -> Breakdown:
    return breakdown(grouped(filters, dimension), dimension, sort)


# The breakdowns in one statement: the range's rollup rows are summed once per key (hours or
# days fold together), the names past each route's busiest are folded into OTHER_MODELS (the
# ranking is read first, `model_bounds`), and those few sums are summed once per breakdown
# column. Each
# breakdown read from the rollup rows would sum them all again.
PANELS = """
WITH totals AS MATERIALIZED (
    SELECT r.family, r.route_label, r.model, r.upstream_host, r.team, {sums}
    FROM {table} r
    WHERE r.grain = %s AND r.bucket >= %s AND r.bucket < %s{conditions}
    GROUP BY r.family, r.route_label, r.model, r.upstream_host, r.team
),
keyed AS MATERIALIZED ({keyed})
{selects}
"""
FOLDED = """
    SELECT r.family, r.route_label, {shown} AS shown_model, r.upstream_host, r.team, {resums}
    FROM totals r
    WHERE 1 = 1{model_condition}
    GROUP BY r.family, r.route_label, {shown}, r.upstream_host, r.team
"""
# Without the ranking the totals are the keyed sums as they are.
UNFOLDED = "SELECT r.*, r.model AS shown_model FROM totals r"
SINGLE = """
SELECT %s, r.{column}, {sums}
FROM {table} r
WHERE r.grain = %s AND r.bucket >= %s AND r.bucket < %s{conditions}
GROUP BY r.{column}
"""
PANEL_COLUMNS = {**DIMENSIONS, "model": "shown_model"}


def panel_sums(
    filters: Filters, dimensions: Iterable[str] = DIMENSIONS, bounds: ModelBounds | None = None
) -> dict[str, dict[str, Measures]]:
    """Filtered sums over the range per value of each dimension: {dimension: {value: sums}}."""
    names = list(dimensions)
    span = filters.range
    # The ranking is needed only where the names as shown matter.
    ranks = "model" in names or bool(filters.model)
    shown, shown_params = "r.model", list[Any]()
    if ranks:
        bounds = model_bounds(span) if bounds is None else bounds
        shown, shown_params = bounds.shown_sql()
    conditions, condition_params = _conditions(filters)
    model_condition, model_params = "", []
    if filters.model:
        model_condition, model_params = f" AND {shown} = %s", [*shown_params, filters.model]
    resums = ", ".join(f"SUM({name})" for name in rollup.MEASURES)
    selects = [
        f"SELECT %s, {PANEL_COLUMNS[name]}, {resums} FROM keyed GROUP BY {PANEL_COLUMNS[name]}"
        for name in names
    ]
    sql = PANELS.format(
        sums=", ".join(_first_sum(name) for name in rollup.MEASURES),
        table=_table(),
        conditions=conditions,
        keyed=FOLDED.format(
            shown=shown,
            resums=", ".join(f"SUM(r.{name}) AS {name}" for name in rollup.MEASURES),
            model_condition=model_condition,
        )
        if ranks
        else UNFOLDED,
        selects=" UNION ALL ".join(selects),
    )
    range_params = _range_params(span, span.grain)
    params = [
        *range_params,
        *condition_params,
        *shown_params,
        *model_params,
        *shown_params,
        *names,
    ]
    if not ranks and len(names) == 1:
        # One column without the ranking (the live tiles): group the rows by it directly,
        # into a handful of groups, rather than by every key first.
        column = DIMENSIONS[names[0]]
        sql = SINGLE.format(
            column=column,
            sums=", ".join(f"SUM(r.{name})" for name in rollup.MEASURES),
            table=_table(),
            conditions=conditions,
        )
        params = [*names, *range_params, *condition_params]
    found: dict[str, dict[str, Measures]] = {name: {} for name in names}
    db = connections[Rollup.objects.db]
    # SET LOCAL needs a transaction; on SQLite one would take the write lock (BEGIN IMMEDIATE).
    postgres = db.vendor == "postgresql"
    with transaction.atomic(using=db.alias) if postgres else nullcontext(), db.cursor() as cursor:
        if postgres:
            # This statement is planned as costly, so PostgreSQL would compile it (JIT) on every
            # load, which took longer than running it; and its groups are wide (~40 sums), so
            # 4 MB of work_mem sends the grouping to sorts on disk. Both apply to it alone.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        for name, value, *values in cursor.fetchall():
            found[name][str(value)] = Measures.from_sums(
                dict(zip(rollup.MEASURES, values, strict=True))
            )
    return found


def _first_sum(name: str) -> str:
    # PostgreSQL sums integers as numeric; cast back, the later sums stay on 64-bit integers
    # (counts of requests and tokens stay far below 2^63).
    if name in rollup.MONEY or name == "overhead_sum":
        return f"SUM(r.{name}) AS {name}"
    return f"CAST(SUM(r.{name}) AS BIGINT) AS {name}"


def _conditions(filters: Filters) -> tuple[str, list[Any]]:
    """The filters but the model's as SQL over rollup rows `r` (the model as shown needs the
    ranking, so its filter applies after the join)."""
    sql: list[str] = []
    params: list[Any] = []
    for column, value in filters.equalities.items():
        if column != "model":
            sql.append(f"r.{column} = %s")
            params.append(value)
    if bounds := filters.status_range:
        sql.append("r.status >= %s AND r.status < %s")
        params += list(bounds)
    return "".join(f" AND {condition}" for condition in sql), params


def bucketed(filters: Filters, bounds: ModelBounds | None = None) -> dict[datetime, Measures]:
    """Filtered sums per bucket (hour or day, as Range.bucket says) of the range."""
    span = filters.range
    rows = _rollup(span.bucket, span).filter(_key_filter(filters, with_model=False))
    if filters.model:
        # The filter matches the name as shown, so "(other)" selects the grouped names.
        bounds = model_bounds(span) if bounds is None else bounds
        rows = rows.filter(bounds.shown_as(filters.model))
    sums = rows.values("bucket").annotate(**_prefixed()).order_by()
    return {row["bucket"]: Measures.from_sums(_unprefixed(row)) for row in sums}


def _key_filter(filters: Filters, with_model: bool = True) -> Q:
    equalities = filters.equalities
    if not with_model:
        equalities.pop("model", None)
    condition = Q(**equalities)
    if bounds := filters.status_range:
        condition &= Q(status__gte=bounds[0], status__lt=bounds[1])
    return condition


# ORM annotations may not share a name with a model field, so the sums carry a prefix.
PREFIX = "m_"


def _prefixed() -> dict[str, Sum]:
    return {PREFIX + name: aggregate for name, aggregate in _sums().items()}


def _unprefixed(row: Mapping[str, object]) -> dict[str, object]:
    return {name.removeprefix(PREFIX): value for name, value in row.items()}


# Recent rows


@dataclass(frozen=True)
class Recent:
    id: int
    created: datetime
    request_id: str
    family: str
    method: str
    endpoint: str
    model: str
    route: str
    upstream_host: str
    team: str
    status: int
    error_type: str
    stream: bool
    disconnected: bool
    cache_hit: bool
    latency_ms: float
    ttfb_ms: float | None
    input_tokens: int
    output_tokens: int
    tokens_saved: int
    cost_usd: Decimal | None
    cost_source: str

    @classmethod
    def of(cls, row: RequestLog) -> Recent:
        return cls(
            id=row.pk,
            created=row.created,
            request_id=row.request_id,
            family=row.family,
            method=row.method,
            endpoint=row.endpoint,
            model=row.model,
            route=row.route_label,
            upstream_host=row.upstream_host,
            team=row.team,
            status=row.status,
            error_type=row.error_type,
            stream=row.stream,
            disconnected=row.disconnected,
            cache_hit=row.cache_hit,
            latency_ms=row.latency_ms,
            ttfb_ms=row.ttfb_ms,
            input_tokens=row.input_tokens + row.cache_read_tokens + row.cache_write_tokens,
            output_tokens=row.output_tokens,
            tokens_saved=row.tokens_saved,
            cost_usd=None if row.cost_source == CostSource.UNPRICED else row.cost_usd,
            cost_source=row.cost_source,
        )


def filtered_rows(filters: Filters) -> QuerySet[RequestLog]:
    """The request-log rows behind every panel: in range and passing the filters, latest first."""
    span = filters.range
    rows = RequestLog.objects.filter(created__gte=span.start, created__lt=span.end)
    return rows.filter(_key_filter(filters)).order_by("-created", "-id")


def recent(filters: Filters, after_id: int = 0, limit: int = RECENT_LIMIT) -> list[Recent]:
    rows = filtered_rows(filters)
    if after_id:
        rows = rows.filter(id__gt=after_id)
    return [Recent.of(row) for row in rows[:limit]]


def latest_id() -> int:
    last = RequestLog.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


# The whole page


@dataclass(frozen=True)
class Options:
    """Values the filter controls offer: those seen in the range."""

    families: list[str]
    routes: list[str]
    models: list[str]
    teams: list[str]


@dataclass(frozen=True)
class Dashboard:
    filters: Filters
    headline: Figures
    series: list[Point]
    breakdowns: list[Breakdown]
    recent: list[Recent]
    options: Options
    latest_id: int
    notes: dict[str, str] = field(default_factory=lambda: dict(NOTES))


def options(
    filters: Filters, sums: Mapping[str, Mapping[str, Measures]], bounds: ModelBounds
) -> Options:
    """The values seen in the range, filters aside: unfiltered, the breakdowns list them; else
    one more query reads the families and teams."""
    if not filters.equalities and filters.status_range is None:
        return Options(
            families=sorted(sums["family"]),
            routes=sorted(sums["route"]),
            models=sorted(sums["model"]),
            teams=sorted(sums["team"]),
        )
    pairs = _rollup(filters.range.grain, filters.range).values_list("family", "team")
    seen = set(pairs.distinct().order_by())
    return Options(
        families=sorted({family for family, _ in seen}),
        routes=bounds.routes,
        models=bounds.models,
        teams=sorted({team for _, team in seen}),
    )


def headline(filters: Filters) -> Figures:
    # Every row has exactly one family, so the family lines add up to the headline.
    return Figures.of(total(grouped(filters, "family").values()))


def build(filters: Filters, sorts: Mapping[str, str] | None = None) -> Dashboard:
    """Every panel of the page for these filters; `sorts` maps a dimension to its sort."""
    sorts = sorts or {}
    bounds = model_bounds(filters.range)
    sums = panel_sums(filters, bounds=bounds)
    return Dashboard(
        filters=filters,
        headline=Figures.of(total(sums["family"].values())),
        series=series(bucketed(filters, bounds), filters.range),
        breakdowns=[breakdown(sums[name], name, sorts.get(name, "")) for name in DIMENSIONS],
        recent=recent(filters),
        options=options(filters, sums, bounds),
        latest_id=latest_id(),
    )
