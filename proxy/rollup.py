"""The dashboard's hourly and daily rollups of the request log on SQLite, kept exact by triggers.

Every insert into proxy_requestlog adds the row's figures to one rollup row per (hour or day,
family, route, model, upstream host, team, status); every delete takes them away. The triggers
live in the database, so rows written by any process, bulk_create or raw SQL count the same.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

# The version is part of every name: a change of columns or bins installs new objects beside
# the old ones and rebuilds from the rows, so a stale rollup is never read.
PREFIX = "proxy_dashboard"
TRIGGERS = (f"{PREFIX}_v1_insert", f"{PREFIX}_v1_delete", f"{PREFIX}_v1_update")
KEYS = ("family", "route_label", "model", "upstream_host", "team", "status")

# Upper edges (ms, exclusive) of the gateway-overhead histogram bins; the last bin is open.
OVERHEAD_EDGES = (
    0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0,
    50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 500.0, 1000.0, 2000.0,
)  # fmt: skip
BINS = tuple(f"overhead_b{index:02d}" for index in range(len(OVERHEAD_EDGES) + 1))

_SAVED = (
    "CASE WHEN {r}.tokens_before IS NOT NULL AND {r}.tokens_after IS NOT NULL "
    "AND {r}.tokens_before > {r}.tokens_after THEN {r}.tokens_before - {r}.tokens_after ELSE 0 END"
)
_ENGINE = "({r}.tokens_before IS NOT NULL AND {r}.tokens_after IS NOT NULL)"


def _source(cost_source: str, value: str) -> str:
    return f"CASE WHEN {{r}}.cost_source = '{cost_source}' THEN {value} ELSE 0 END"


# Each measure: the rollup column and its value for one request-log row `{r}`.
MEASURES: dict[str, str] = {
    "requests": "1",
    "input_tokens": "{r}.input_tokens",
    "output_tokens": "{r}.output_tokens",
    "cache_read_tokens": "{r}.cache_read_tokens",
    "cache_write_tokens": "{r}.cache_write_tokens",
    "engine_requests": f"CASE WHEN {_ENGINE} THEN 1 ELSE 0 END",
    "tokens_before": f"CASE WHEN {_ENGINE} THEN {{r}}.tokens_before ELSE 0 END",
    "tokens_after": f"CASE WHEN {_ENGINE} THEN {{r}}.tokens_after ELSE 0 END",
    "tokens_saved": _SAVED,
    "cache_hits": "CASE WHEN {r}.cache_hit THEN 1 ELSE 0 END",
    "priced_requests": _source("priced", "1"),
    "estimated_requests": _source("estimated", "1"),
    "unpriced_requests": "CASE WHEN {r}.cost_source IN ('priced', 'estimated') THEN 0 ELSE 1 END",
    "cost_priced": _source("priced", "COALESCE({r}.cost_usd, 0)"),
    "cost_estimated": _source("estimated", "COALESCE({r}.cost_usd, 0)"),
    "saved_priced": _source("priced", "COALESCE({r}.saved_usd, 0)"),
    "saved_estimated": _source("estimated", "COALESCE({r}.saved_usd, 0)"),
    "overhead_sum": "{r}.overhead_ms",
}
REAL_MEASURES = {"cost_priced", "cost_estimated", "saved_priced", "saved_estimated", "overhead_sum"}


def _bin_expressions() -> dict[str, str]:
    lows = (None, *OVERHEAD_EDGES)
    highs = (*OVERHEAD_EDGES, None)
    expressions = {}
    for name, low, high in zip(BINS, lows, highs, strict=True):
        parts = [f"{{r}}.overhead_ms >= {low}" if low is not None else "1"]
        if high is not None:
            parts.append(f"{{r}}.overhead_ms < {high}")
        expressions[name] = f"CASE WHEN {' AND '.join(parts)} THEN 1 ELSE 0 END"
    return expressions


MEASURES.update(_bin_expressions())
COLUMNS = tuple(MEASURES)
# Request-log columns the rollup reads: an UPDATE of any other column (a route deleted, which
# sets route_id to NULL) leaves the rollup alone.
SOURCE_COLUMNS = (
    "created", *KEYS, "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "tokens_before", "tokens_after", "cache_hit", "cost_source", "cost_usd", "saved_usd",
    "overhead_ms",
)  # fmt: skip
# Two grains of the same rollup: hours for the 24 h view, days for week and month views, so a
# month is read from ~30 rows per key instead of ~720.
GRAINS = {
    "hour": (f"{PREFIX}_hourly_v1", "strftime('%Y-%m-%d %H:00:00', {r}.created)"),
    "day": (f"{PREFIX}_daily_v1", "strftime('%Y-%m-%d 00:00:00', {r}.created)"),
}
TABLES = tuple(table for table, _ in GRAINS.values())


def _create_table(table: str) -> str:
    keys = ", ".join(f"{key} {'integer' if key == 'status' else 'text'} NOT NULL" for key in KEYS)
    measures = ", ".join(
        f"{name} {'real' if name in REAL_MEASURES else 'integer'} NOT NULL DEFAULT 0"
        for name in COLUMNS
    )
    primary = ", ".join(("bucket", *KEYS))
    # Clustered on the key, buckets first: a range of buckets is one contiguous read.
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (bucket text NOT NULL, {keys}, {measures}, "
        f"PRIMARY KEY ({primary})) WITHOUT ROWID"
    )


def _add_row(ref: str) -> str:
    """Upserts that add request-log row `ref` (NEW) into its rollup row of each grain."""
    keys = ", ".join(f"{ref}.{key}" for key in KEYS)
    values = ", ".join(MEASURES[name].format(r=ref) for name in COLUMNS)
    updates = ", ".join(f"{name} = {name} + excluded.{name}" for name in COLUMNS)
    return " ".join(
        f"INSERT INTO {table} (bucket, {', '.join(KEYS)}, {', '.join(COLUMNS)}) "
        f"VALUES ({bucket.format(r=ref)}, {keys}, {values}) "
        f"ON CONFLICT (bucket, {', '.join(KEYS)}) DO UPDATE SET {updates};"
        for table, bucket in GRAINS.values()
    )


def _remove_row(ref: str) -> str:
    """Take request-log row `ref` (OLD) out of its rollup rows, and drop rows left empty."""
    updates = ", ".join(f"{name} = {name} - ({MEASURES[name].format(r=ref)})" for name in COLUMNS)
    statements = []
    for table, bucket in GRAINS.values():
        match = " AND ".join(
            [f"bucket = {bucket.format(r=ref)}", *(f"{k} = {ref}.{k}" for k in KEYS)]
        )
        statements.append(f"UPDATE {table} SET {updates} WHERE {match};")
        statements.append(f"DELETE FROM {table} WHERE {match} AND requests = 0;")
    return " ".join(statements)


def _rebuild(table: str, bucket: str) -> list[str]:
    keys = ", ".join(f"r.{k}" for k in KEYS)
    sums = ", ".join(f"SUM({MEASURES[name].format(r='r')})" for name in COLUMNS)
    return [
        f"DELETE FROM {table}",
        f"INSERT INTO {table} (bucket, {', '.join(KEYS)}, {', '.join(COLUMNS)}) "
        f"SELECT {bucket.format(r='r')}, {keys}, {sums} FROM proxy_requestlog r "
        f"GROUP BY 1, {keys}",
    ]


def statements() -> list[str]:
    """DDL that creates the rollups and their triggers (idempotent), then fills them."""
    insert, delete, update = TRIGGERS
    ddl = [_create_table(table) for table in TABLES]
    ddl += [
        f"CREATE TRIGGER IF NOT EXISTS {insert} AFTER INSERT ON proxy_requestlog "
        f"BEGIN {_add_row('NEW')} END",
        f"CREATE TRIGGER IF NOT EXISTS {delete} AFTER DELETE ON proxy_requestlog "
        f"BEGIN {_remove_row('OLD')} END",
        f"CREATE TRIGGER IF NOT EXISTS {update} AFTER UPDATE OF {', '.join(SOURCE_COLUMNS)} "
        f"ON proxy_requestlog BEGIN {_remove_row('OLD')} {_add_row('NEW')} END",
    ]
    for table, bucket in GRAINS.values():
        ddl += _rebuild(table, bucket)
    return ddl


def installed(db: BaseDatabaseWrapper = connection) -> bool:
    """True when the rollup table and all its triggers exist (one catalogue query)."""
    if db.vendor != "sqlite":
        return False
    names = (*TABLES, *TRIGGERS)
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM sqlite_master WHERE name IN ({', '.join('%s' for _ in names)})",
            names,
        )
        (count,) = cursor.fetchone()
    return count == len(names)


def install(db: BaseDatabaseWrapper = connection) -> bool:
    """Create the rollup and rebuild it from the rows unless it is already complete.

    Runs after every `migrate`: rebuilding a table on SQLite (Django does it for many field
    changes) drops its triggers, and this puts them back with figures recomputed from the rows.
    """
    if db.vendor != "sqlite" or installed(db):
        return False
    if "proxy_requestlog" not in db.introspection.table_names():
        return False
    with transaction.atomic(using=db.alias), db.cursor() as cursor:
        # A half-installed set (some triggers gone) is removed first so the rebuild is exact.
        uninstall(db)
        for statement in statements():
            cursor.execute(statement)
    return True


def uninstall(db: BaseDatabaseWrapper = connection) -> None:
    """Drop the triggers (the tables stay, and are rebuilt by the next install)."""
    with db.cursor() as cursor:
        for trigger in TRIGGERS:
            cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")


def on_pre_migrate(using: str = "default", plan: list | None = None, **kwargs: object) -> None:
    """pre_migrate receiver: out of the way of any proxy migration.

    SQLite refuses to drop or change a column that a trigger reads, so the triggers go before
    proxy migrations run and come back, rebuilt from the rows, in post_migrate.
    """
    db = connections[using]
    if db.vendor == "sqlite" and any(m.app_label == "proxy" for m, _ in plan or []):
        uninstall(db)


def on_post_migrate(using: str = "default", **kwargs: object) -> None:
    """post_migrate receiver (connected by the proxy app)."""
    install(connections[using])


def _bucket_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:00:00")


def query(
    grain: str,
    start: datetime,
    end: datetime,
    where: list[tuple[str, list[object]]],
    by: tuple[str, ...],
) -> list[tuple[tuple[object, ...], dict[str, object]]]:
    """Sums of every measure (and `errors`) over [start, end), grouped by `by`.

    `start` and `end` are aligned to the grain ("hour" or "day"); "bucket" in `by` groups by
    its start. `where` holds extra conditions on the key columns: SQL fragments and params.
    """
    table, _ = GRAINS[grain]
    conditions = ["bucket >= %s", "bucket < %s", *(sql for sql, _ in where)]
    params: list[object] = [_bucket_text(start), _bucket_text(end)]
    for _, extra in where:
        params.extend(extra)
    group = ", ".join(by)
    sums = ", ".join(f"SUM({name})" for name in COLUMNS)
    errors = "SUM(CASE WHEN status >= 400 THEN requests ELSE 0 END)"
    sql = (
        f"SELECT {group}, {errors}, {sums} FROM {table} "
        f"WHERE {' AND '.join(conditions)} GROUP BY {group}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(by)
    names = ("errors", *COLUMNS)
    return [(tuple(row[:width]), dict(zip(names, row[width:], strict=True))) for row in rows]


def parse_bucket(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
