"""The dashboard's hourly and daily rollups of the request log, kept by whoever writes or deletes
rows (the log writer, pruning; see `requestlog.models`), in the same transaction, on every
database.

Each request-log row adds its measures to one `Rollup` row per grain and key (family, route,
model, upstream host, team, status). The measures are defined once, in `measures_of`; the
dashboard reads only the rollup, never the request log itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connections, transaction

# Upper edges (ms, exclusive) of the gateway-overhead histogram bins; the last bin is open.
OVERHEAD_EDGES = (
    0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0,
    50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 500.0, 1000.0, 2000.0,
)  # fmt: skip
BINS = tuple(f"overhead_b{index:02d}" for index in range(len(OVERHEAD_EDGES) + 1))
KEYS = ("family", "route_label", "model", "upstream_host", "team", "status")
COUNTS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "engine_requests",
    "tokens_before",
    "tokens_after",
    "tokens_saved",
    "cache_hits",
    "priced_requests",
    "estimated_requests",
    "unpriced_requests",
)
MONEY = ("cost_priced", "cost_estimated", "saved_priced", "saved_estimated")
MEASURES = (*COUNTS, *MONEY, "overhead_sum", *BINS)
# Hours for the 24 h view, days for week and month views, so a month is read from ~30 rows per
# key instead of ~720.
GRAINS = ("hour", "day")
# The request-log fields `measures_of` and `accumulate` read.
ROW_FIELDS = (
    "created", *KEYS, "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "tokens_before", "tokens_after", "cache_hit", "cost_source",
    "cost_usd", "saved_usd", "overhead_ms",
)  # fmt: skip

Sums = dict[str, Any]


def measures_of(row: Any) -> Sums:
    """What one request-log row (a model instance or anything with its attributes) adds."""
    engine = row.tokens_before is not None and row.tokens_after is not None
    source = row.cost_source
    cost = row.cost_usd or Decimal(0)
    saved = row.saved_usd or Decimal(0)
    sums: Sums = {
        "requests": 1,
        "errors": 1 if row.status >= 400 else 0,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "engine_requests": 1 if engine else 0,
        "tokens_before": row.tokens_before if engine else 0,
        "tokens_after": row.tokens_after if engine else 0,
        "tokens_saved": max(row.tokens_before - row.tokens_after, 0) if engine else 0,
        "cache_hits": 1 if row.cache_hit else 0,
        "priced_requests": 1 if source == "priced" else 0,
        "estimated_requests": 1 if source == "estimated" else 0,
        "unpriced_requests": 0 if source in ("priced", "estimated") else 1,
        "cost_priced": cost if source == "priced" else Decimal(0),
        "cost_estimated": cost if source == "estimated" else Decimal(0),
        "saved_priced": saved if source == "priced" else Decimal(0),
        "saved_estimated": saved if source == "estimated" else Decimal(0),
        "overhead_sum": float(row.overhead_ms),
    }
    for name in BINS:
        sums[name] = 0
    sums[BINS[overhead_bin(row.overhead_ms)]] = 1
    return sums


def overhead_bin(overhead_ms: float) -> int:
    for index, edge in enumerate(OVERHEAD_EDGES):
        if overhead_ms < edge:
            return index
    return len(OVERHEAD_EDGES)


def bucket_of(moment: datetime, grain: str) -> datetime:
    start = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if grain == "day" else start


def accumulate(rows: Iterable[Any], sign: int = 1) -> dict[tuple[Any, ...], Sums]:
    """Sums per (grain, bucket, key…) of `rows`; `sign` -1 takes them away (deleted rows)."""
    groups: dict[tuple[Any, ...], Sums] = {}
    for row in rows:
        added = measures_of(row)
        keys = tuple(getattr(row, key) for key in KEYS)
        for grain in GRAINS:
            group = (grain, bucket_of(row.created, grain), *keys)
            sums = groups.get(group)
            if sums is None:
                groups[group] = {name: value * sign for name, value in added.items()}
            else:
                for name, value in added.items():
                    sums[name] += value * sign
    return groups


def write(db: Any, table: str, groups: Mapping[tuple[Any, ...], Sums]) -> None:
    """Upsert `groups` (from `accumulate`) into the rollup table: one statement, the same on
    SQLite and PostgreSQL, so concurrent writers add up instead of overwriting each other."""
    if not groups:
        return
    quoted = db.ops.quote_name(table)
    columns = ("grain", "bucket", *KEYS, *MEASURES)
    conflict = ", ".join(("grain", "bucket", *KEYS))
    updates = ", ".join(f"{name} = {quoted}.{name} + excluded.{name}" for name in MEASURES)
    sql = (
        f"INSERT INTO {quoted} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
    )
    with db.cursor() as cursor:
        cursor.executemany(sql, [_params(db, group, sums) for group, sums in groups.items()])


def _params(db: Any, group: tuple[Any, ...], sums: Mapping[str, Any]) -> list[Any]:
    grain, bucket, *keys = group
    values: list[Any] = [grain, db.ops.adapt_datetimefield_value(bucket), *keys]
    for name in MEASURES:
        value = sums[name]
        values.append(db.ops.adapt_decimalfield_value(value, 18, 10) if name in MONEY else value)
    return values


def rebuild(request_log: Any, rollup: Any, using: str = "default") -> int:
    """Recompute the whole rollup from the rows (after a restore, or once when migrating);
    returns the number of rows read. Takes the models, so a migration can pass its own."""
    db = connections[using]
    table = rollup._meta.db_table
    with transaction.atomic(using=using):
        rollup.objects.using(using).all().delete()
        rows = (
            request_log.objects.using(using).only(*ROW_FIELDS).order_by().iterator(chunk_size=5000)
        )
        count = 0
        batch: list[Any] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 5000:
                count += len(batch)
                write(db, table, accumulate(batch))
                batch = []
        count += len(batch)
        write(db, table, accumulate(batch))
    return count
