"""Load times of the savings dashboard over 10 million request-log rows on PostgreSQL.

Starts a private PostgreSQL cluster (tests/deploy.py) unless `--database-url` names an empty
database, migrates it and fills it in SQL: `--rows` request-log rows (default 10,000,000) spread
over the last 30 days, and the hourly and daily rollup summed from them by one INSERT … SELECT
per grain, the sums the log writer keeps (`requestlog.rollup.measures_of`). Cardinalities are
those of a busy shared gateway: 12 routes over 3 families and 9 upstream hosts, 15 everyday
model names per route plus `--tail-models` (default 30,000) fine-tuned or made-up names on 2% of
the requests, 60 teams, 11 statuses (90% are 200); routes and teams are skewed, a few taking
most of the traffic, and each team sends three requests in four to its own route and model.
Then it loads the page, the live JSON and the model breakdown CSV through Django's test client
for 24 h, 7 d and 30 d, unfiltered and filtered, and prints p50/p95 of each. A database that
already holds rows (a cluster kept with `--keep`) is timed as it is, not seeded again.

    .venv/bin/python bench/dashboard_scale.py [--rows 10000000] [--loads 20]
        [--filters 7] [--database-url postgres://…] [--keep]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAYS = 30
# (route prefix, family, upstream host), busiest first.
ROUTES = (
    ("claude-", "anthropic", "api.anthropic.com"),
    ("gpt-", "openai", "api.openai.com"),
    ("gemini-", "gemini", "generativelanguage.googleapis.com"),
    ("glm-", "openai", "ollama.com"),
    ("deepseek-", "openai", "api.deepseek.com"),
    ("o4-", "openai", "api.openai.com"),
    ("qwen-", "openai", "dashscope.aliyuncs.com"),
    ("mistral-", "openai", "api.mistral.ai"),
    ("kimi-", "openai", "api.moonshot.ai"),
    ("default", "openai", "api.openai.com"),
    ("override", "openai", "llm.internal.example"),
    ("*", "anthropic", "bedrock-runtime.us-east-1.amazonaws.com"),
)
EVERYDAY_MODELS = 15
TEAMS = 60
# Statuses and their share of requests, in thousandths.
STATUSES = ((200, 900), (201, 10), (400, 20), (401, 5), (403, 2), (404, 3), (429, 25), (499, 15))
STATUSES += ((500, 8), (502, 8), (504, 4))
BATCH = 1_000_000
LOG_COLUMNS = """
    created request_id family endpoint method model model_forwarded route_id route_label
    upstream_host attempts answered_route override team gateway_key_id status error_type stream
    disconnected latency_ms ttfb_ms overhead_ms input_tokens output_tokens cache_read_tokens
    cache_write_tokens usage_reported tokens_before tokens_after estimated_tokens_before
    estimated_tokens_after savings_note cache_hit cost_usd saved_usd cost_source
"""
# Filter sets each range is loaded with ("" = none); the model filter names a tail name, which
# reads as "(other)".
FILTERS = (
    "",
    "model=(other)",
    "team=team-3",
    "route=gpt-",
    "model=claude-m0",
    "status=error",
    "route=kimi-&team=team-40&status=5xx",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--tail-models", type=int, default=30_000)
    parser.add_argument("--loads", type=int, default=20, help="timed loads per view and filter")
    parser.add_argument(
        "--filters", type=int, default=len(FILTERS), help="time the first N filter sets only"
    )
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database")
    parser.add_argument("--keep", action="store_true", help="leave the private cluster running")
    args = parser.parse_args()
    if args.loads < 1:
        parser.error("--loads must be at least 1")
    sys.path.insert(0, str(ROOT))
    if args.database_url:
        setup_django(args.database_url)
        seed(args.rows, args.tail_models)
        time_views(args.loads, FILTERS[: args.filters])
    else:
        with_private_cluster(args.keep)


def with_private_cluster(keep: bool) -> None:
    """Start a cluster, run this script again against it, stop the cluster (unless kept)."""
    # tests.deploy imports the test fixtures, which need Django set up (no database is opened).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "headroom_site.settings")
    import django

    django.setup()
    from tests.deploy import start_postgres

    cluster = start_postgres()
    try:
        url = cluster.create_database("dashboard_scale")
        print(f"private PostgreSQL on port {cluster.port}: {url}", flush=True)
        argv = [arg for arg in sys.argv[1:] if arg != "--keep"]
        subprocess.run([sys.executable, __file__, *argv, "--database-url", url], check=True)
    finally:
        if not keep:
            cluster.stop()


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "headroom_site.settings"
    os.environ["HEADROOM_ROUTES_POLL_SECONDS"] = "0"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def seed(count: int, tail_models: int) -> None:
    """Rows are generated into an unindexed staging table, summed into the rollup from there,
    and copied into the request log with its indexes dropped and rebuilt after, as a bulk
    load would be done: the bench measures the reads, not the seeding."""
    from django.db import connection

    from requestlog.models import RequestLog

    if RequestLog.objects.exists():
        print(f"the database already holds {RequestLog.objects.count():,} rows; not seeding")
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_requests AS SELECT * FROM requestlog_requestlog "
            "WITH NO DATA"
        )
        for offset in range(0, count, BATCH):
            size = min(BATCH, count - offset)
            cursor.execute(log_rows_sql(), [offset, count, tail_models, size])
        generated = time.perf_counter()
        for grain in ("hour", "day"):
            cursor.execute(rollup_sql(grain))
        summed = time.perf_counter()
        load_request_log(cursor)
        cursor.execute("DROP TABLE bench_requests")
        cursor.execute("ANALYZE requestlog_requestlog")
        cursor.execute("ANALYZE requestlog_rollup")
        cursor.execute("SELECT grain, COUNT(*) FROM requestlog_rollup GROUP BY grain ORDER BY 1")
        sizes = dict(cursor.fetchall())
        cursor.execute("SELECT COUNT(DISTINCT model) FROM requestlog_rollup")
        (models,) = cursor.fetchone()
    done = time.perf_counter()
    print(
        f"generated {count:,} requests in {generated - started:.0f} s, summed the rollup in "
        f"{summed - generated:.0f} s, loaded and indexed the request log in {done - summed:.0f} s"
    )
    print(
        f"rollup: {sizes.get('day', 0):,} daily and {sizes.get('hour', 0):,} hourly rows, "
        f"{models:,} model names",
        flush=True,
    )


def load_request_log(cursor: object) -> None:
    """Copy the staged rows into the request log, ids in time order, its indexes rebuilt once."""
    cursor.execute(  # type: ignore[attr-defined]
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'requestlog_requestlog' "
        "AND indexname NOT LIKE '%%_pkey'"
    )
    indexes = cursor.fetchall()  # type: ignore[attr-defined]
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')  # type: ignore[attr-defined]
    columns = ", ".join(c for c in LOG_COLUMNS.split())
    cursor.execute(  # type: ignore[attr-defined]
        f"INSERT INTO requestlog_requestlog ({columns}) "
        f"SELECT {columns} FROM bench_requests ORDER BY created"
    )
    for _, definition in indexes:
        cursor.execute(definition)  # type: ignore[attr-defined]


def _values(rows: tuple[tuple[object, ...], ...]) -> str:
    return ", ".join(
        "(" + ", ".join(repr(v) if isinstance(v, str) else str(v) for v in row) + ")"
        for row in rows
    )


def log_rows_sql() -> str:
    """One batch of request-log rows into the staging table; parameters: the rows made so far,
    the total, the tail's name count and the batch size."""
    routes = _values(tuple((index, *route) for index, route in enumerate(ROUTES)))
    edges, upto = [], 0
    for status, share in STATUSES:
        upto += share
        edges.append(f"WHEN d.status_draw < {upto} THEN {status}")
    return f"""
    WITH routes(ordinal, label, family, host) AS (VALUES {routes}),
    draws AS (
        SELECT
            -- In time order, so the created index is appended to as the log writer's is.
            now() - interval '{DAYS} days' * (1 - (%s + g)::float / %s) AS created,
            floor(power(random(), 2) * {TEAMS})::int AS team_draw,
            random() < 0.75 AS at_home,
            floor(power(random(), 2.5) * {len(ROUTES)})::int AS route_draw,
            floor(power(random(), 3) * {EVERYDAY_MODELS})::int AS model_draw,
            CASE WHEN random() < 0.02 THEN floor(random() * %s)::int END AS tail_draw,
            floor(random() * 1000)::int AS status_draw,
            random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5
        FROM generate_series(1, %s) AS g
    ),
    -- Three requests in four go to the team's own route and model; the rest anywhere, skewed.
    placed AS (
        SELECT d.*,
            CASE WHEN at_home THEN mod(team_draw, {len(ROUTES)}) ELSE route_draw END AS route_at,
            CASE WHEN at_home THEN mod(team_draw, {EVERYDAY_MODELS}) ELSE model_draw END AS model_at
        FROM draws d
    ),
    shaped AS (
        SELECT d.*, r.label, r.family, r.host,
            CASE {" ".join(edges)} ELSE 200 END AS status,
            CASE WHEN d.r5 < 0.8 THEN 'priced' WHEN d.r5 < 0.9 THEN 'estimated'
                 ELSE 'unpriced' END AS cost_source,
            CASE WHEN d.r4 < 0.4 THEN 200 + floor(d.r3 * 20000)::int END AS tokens_before
        FROM placed d JOIN routes r ON r.ordinal = d.route_at
    )
    INSERT INTO bench_requests ({", ".join(LOG_COLUMNS.split())})
    SELECT
        created, md5(random()::text), family, '/v1/chat/completions', 'POST',
        CASE WHEN tail_draw IS NULL THEN label || 'm' || model_at
             ELSE label || 'ft-' || tail_draw END,
        '', NULL, label, host, 1, label, label = 'override', 'team-' || team_draw, NULL,
        status, CASE WHEN status >= 500 THEN 'upstream_error' ELSE '' END, r1 < 0.6,
        status = 499, 50 + r2 * 4000, 20 + r3 * 800, exp(1.0 + 0.6 * r1 + 0.3 * r4),
        floor(r1 * 8000)::int, floor(r2 * 1500)::int,
        CASE WHEN r3 < 0.5 THEN floor(r4 * 6000)::int ELSE 0 END,
        CASE WHEN r3 > 0.8 THEN floor(r5 * 2000)::int ELSE 0 END, cost_source <> 'estimated',
        tokens_before, floor(tokens_before * (0.5 + r2 / 2))::int, NULL, NULL,
        '', r4 < 0.05,
        CASE WHEN cost_source <> 'unpriced' THEN round((r2 * 0.05)::numeric, 6) END,
        CASE WHEN cost_source <> 'unpriced' THEN round((r3 * 0.005)::numeric, 6) END,
        cost_source
    FROM shaped
    """


def rollup_sql(grain: str) -> str:
    """The rollup of every request-log row at one grain, as `rollup.measures_of` sums it."""
    from requestlog import rollup

    engine = "(tokens_before IS NOT NULL AND tokens_after IS NOT NULL)"
    sums = {
        "requests": "COUNT(*)",
        "errors": "SUM((status >= 400)::int)",
        "input_tokens": "SUM(input_tokens)",
        "output_tokens": "SUM(output_tokens)",
        "cache_read_tokens": "SUM(cache_read_tokens)",
        "cache_write_tokens": "SUM(cache_write_tokens)",
        "engine_requests": f"SUM({engine}::int)",
        "tokens_before": f"SUM(CASE WHEN {engine} THEN tokens_before ELSE 0 END)",
        "tokens_after": f"SUM(CASE WHEN {engine} THEN tokens_after ELSE 0 END)",
        "tokens_saved": (
            f"SUM(CASE WHEN {engine} THEN GREATEST(tokens_before - tokens_after, 0) ELSE 0 END)"
        ),
        "cache_hits": "SUM(cache_hit::int)",
        "priced_requests": "SUM((cost_source = 'priced')::int)",
        "estimated_requests": "SUM((cost_source = 'estimated')::int)",
        "unpriced_requests": "SUM((cost_source NOT IN ('priced', 'estimated'))::int)",
        "cost_priced": "SUM(CASE WHEN cost_source = 'priced' THEN cost_usd ELSE 0 END)",
        "cost_estimated": "SUM(CASE WHEN cost_source = 'estimated' THEN cost_usd ELSE 0 END)",
        "saved_priced": "SUM(CASE WHEN cost_source = 'priced' THEN saved_usd ELSE 0 END)",
        "saved_estimated": "SUM(CASE WHEN cost_source = 'estimated' THEN saved_usd ELSE 0 END)",
        "overhead_sum": "SUM(overhead_ms)",
    }
    edges = ", ".join(str(edge) for edge in rollup.OVERHEAD_EDGES)
    for index, name in enumerate(rollup.BINS):
        sums[name] = f"SUM((width_bucket(overhead_ms, ARRAY[{edges}]) = {index})::int)"
    assert tuple(sums) == rollup.MEASURES
    keys = ", ".join(rollup.KEYS)
    return f"""
    INSERT INTO requestlog_rollup (grain, bucket, {keys}, {", ".join(sums)})
    SELECT '{grain}', date_trunc('{grain}', created), {keys}, {", ".join(sums.values())}
    FROM bench_requests
    GROUP BY date_trunc('{grain}', created), {keys}
    """


def time_views(loads: int, filter_sets: tuple[str, ...]) -> None:
    client = staff_client()
    views = (("page", "/dashboard/?"), ("live", "/dashboard/live.json?"))
    views += (("model csv", "/dashboard/export/model.csv?"),)
    worst = 0.0
    for span in ("24h", "7d", "30d"):
        for filters in filter_sets:
            query = f"range={span}" + (f"&{filters}" if filters else "")
            for name, path in views:
                load(client, path + query)  # warm: the first load per shape plans its queries
                timings = sorted(load(client, path + query) for _ in range(loads))
                p95 = timings[min(len(timings) - 1, -(-95 * len(timings) // 100) - 1)]
                worst = max(worst, p95)
                print(
                    f"{span:>3} {name:<9} {filters or '(no filter)':<38} "
                    f"p50 {statistics.median(timings):6.1f} ms  p95 {p95:6.1f} ms"
                )
    print(f"slowest p95: {worst:.1f} ms ({loads} loads each)")


def staff_client() -> object:
    from django.contrib.auth.models import User
    from django.test import Client

    user, _ = User.objects.get_or_create(username="bench", defaults={"is_staff": True})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def load(client: object, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)  # type: ignore[attr-defined]
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code)
    return elapsed


if __name__ == "__main__":
    main()
