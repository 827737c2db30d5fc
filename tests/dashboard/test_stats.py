"""Dashboard figures checked against independent SQL over seeded request-log rows.

Figures come from the rollup the log writer keeps; the expected values come from raw SQL on
requestlog_requestlog, an independent path.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from dashboard import stats
from requestlog.management.commands.prune_request_logs import prune
from requestlog.models import CostSource, RequestLog, Rollup

NOW = datetime(2026, 3, 10, 12, 34, 56, tzinfo=UTC)
MODELS = {
    "gpt-5": ("openai", "gpt-", "api.openai.com"),
    "gpt-5-mini": ("openai", "gpt-", "api.openai.com"),
    "claude-sonnet-4": ("anthropic", "claude-", "api.anthropic.com"),
    "gemini-2.5-pro": ("gemini", "default", "generativelanguage.googleapis.com"),
    "glm-4.6": ("openai", "glm-", "ollama.com"),
}
TEAMS = ("", "search", "support")
STATUSES = (200, 200, 200, 200, 201, 400, 429, 499, 500, 502)
SOURCES = (CostSource.PRICED, CostSource.PRICED, CostSource.ESTIMATED, CostSource.UNPRICED)
OVERHEADS = (0.2, 0.7, 1.5, 2.2, 3.9, 4.4, 8.0, 12.5, 40.0, 260.0, 2500.0)


def seed_row(rng: random.Random, created: datetime, **fields: object) -> RequestLog:
    model = rng.choice(list(MODELS))
    family, route, host = MODELS[model]
    source = rng.choice(SOURCES)
    before = rng.choice([None, rng.randint(100, 5000)])
    after = None if before is None else max(0, before - rng.randint(-50, 2000))
    values: dict[str, object] = {
        "created": created,
        "request_id": f"{rng.getrandbits(64):016x}",
        "family": family,
        "endpoint": "/v1/chat/completions",
        "method": "POST",
        "model": model,
        "model_forwarded": model,
        "route_label": route,
        "upstream_host": host,
        "team": rng.choice(TEAMS),
        "status": rng.choice(STATUSES),
        "latency_ms": rng.uniform(5, 900),
        "ttfb_ms": rng.choice([None, rng.uniform(1, 300)]),
        "overhead_ms": rng.choice(OVERHEADS) + rng.random() / 10,
        "input_tokens": rng.randint(0, 4000),
        "output_tokens": rng.randint(0, 900),
        "cache_read_tokens": rng.choice([0, rng.randint(0, 3000)]),
        "cache_write_tokens": rng.choice([0, rng.randint(0, 500)]),
        "tokens_before": before,
        "tokens_after": after,
        "cache_hit": rng.random() < 0.2,
        "cost_source": source,
        "cost_usd": None
        if source == CostSource.UNPRICED
        else Decimal(rng.randint(1, 10**7)) / 10**9,
        "saved_usd": None
        if source == CostSource.UNPRICED
        else Decimal(rng.randint(0, 10**6)) / 10**9,
    }
    values.update(fields)
    return RequestLog(**values)


@pytest.fixture
def seeded(db: None) -> list[RequestLog]:
    """300 rows over the last 40 days, so each preset range cuts the data somewhere."""
    rng = random.Random(4)
    rows = [
        seed_row(rng, NOW - timedelta(seconds=rng.uniform(-1800, 40 * 86400))) for _ in range(300)
    ]
    return RequestLog.objects.add_rows(rows)


def filters(**params: str) -> stats.Filters:
    return stats.parse_filters(params, now=NOW)


def where(f: stats.Filters) -> tuple[str, list[object]]:
    """The filters as an SQL condition written out by hand, for the expected values."""
    sql = ["created >= %s", "created < %s"]
    params: list[object] = [text(f.range.start), text(f.range.end)]
    for column, value in (
        ("family", f.family),
        ("route_label", f.route),
        ("model", f.model),
        ("team", f.team),
    ):
        if value:
            sql.append(f"{column} = %s")
            params.append(value)
    if f.status == "error":
        sql.append("status >= 400")
    return " AND ".join(sql), params


def text(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


def sql(query: str, params: list[object]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def expected(f: stats.Filters, select: str) -> tuple:
    condition, params = where(f)
    return sql(f"SELECT {select} FROM requestlog_requestlog WHERE {condition}", params)[0]


RANGES = ["24h", "7d", "30d"]


@pytest.mark.parametrize("span", RANGES)
def test_request_count_and_errors_match_sql(seeded: list, span: str) -> None:
    f = filters(range=span)
    count, errors = expected(f, "COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END)")
    figures = stats.headline(f)
    assert count > 0
    assert (figures.requests, figures.errors) == (count, errors)
    assert figures.error_rate == pytest.approx(errors / count)


@pytest.mark.parametrize("span", RANGES)
def test_billed_tokens_match_sql(seeded: list, span: str) -> None:
    f = filters(range=span)
    billed = expected(
        f,
        "SUM(input_tokens + cache_read_tokens + cache_write_tokens), SUM(output_tokens), "
        "SUM(input_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens)",
    )
    figures = stats.headline(f)
    assert (
        figures.input_tokens,
        figures.output_tokens,
        figures.uncached_input_tokens,
        figures.cache_read_tokens,
        figures.cache_write_tokens,
    ) == billed


@pytest.mark.parametrize("span", RANGES)
def test_spend_sums_priced_rows_and_keeps_estimates_apart(seeded: list, span: str) -> None:
    f = filters(range=span)
    priced, estimated, unpriced = expected(
        f,
        "SUM(CASE WHEN cost_source = 'priced' THEN cost_usd END), "
        "SUM(CASE WHEN cost_source = 'estimated' THEN cost_usd END), "
        "SUM(CASE WHEN cost_source = 'unpriced' THEN 1 ELSE 0 END)",
    )
    figures = stats.headline(f)
    assert figures.spend == pytest.approx(Decimal(str(priced)), abs=Decimal("1e-9"))
    assert figures.spend_estimated == pytest.approx(Decimal(str(estimated)), abs=Decimal("1e-9"))
    assert figures.unpriced_requests == unpriced


@pytest.mark.parametrize("span", RANGES)
def test_usd_saved_sums_priced_rows(seeded: list, span: str) -> None:
    f = filters(range=span)
    saved, saved_estimated = expected(
        f,
        "SUM(CASE WHEN cost_source = 'priced' THEN saved_usd END), "
        "SUM(CASE WHEN cost_source = 'estimated' THEN saved_usd END)",
    )
    figures = stats.headline(f)
    assert figures.saved_usd == pytest.approx(Decimal(str(saved)), abs=Decimal("1e-9"))
    assert figures.saved_usd_estimated == pytest.approx(
        Decimal(str(saved_estimated)), abs=Decimal("1e-9")
    )


def test_rows_without_a_price_show_as_unpriced_never_zero(db: None) -> None:
    rng = random.Random(1)
    RequestLog.objects.add_rows(
        [seed_row(rng, NOW, cost_source=CostSource.UNPRICED, cost_usd=None, saved_usd=None)] * 1
    )
    figures = stats.headline(filters())
    assert (figures.requests, figures.unpriced_requests) == (1, 1)
    assert figures.spend is None
    assert figures.saved_usd is None


@pytest.mark.parametrize("span", RANGES)
def test_tokens_saved_and_their_share_match_sql(seeded: list, span: str) -> None:
    f = filters(range=span)
    saved, billed = expected(
        f,
        "SUM(CASE WHEN tokens_before IS NOT NULL AND tokens_after IS NOT NULL "
        "AND tokens_before > tokens_after THEN tokens_before - tokens_after ELSE 0 END), "
        "SUM(input_tokens + cache_read_tokens + cache_write_tokens)",
    )
    figures = stats.headline(f)
    assert saved > 0
    assert figures.tokens_saved == saved
    assert figures.saved_share == pytest.approx(saved / (billed + saved))


@pytest.mark.parametrize("span", RANGES)
def test_cache_hit_rate_matches_sql(seeded: list, span: str) -> None:
    f = filters(range=span)
    hits, count = expected(f, "SUM(cache_hit), COUNT(*)")
    figures = stats.headline(f)
    assert figures.cache_hits == hits
    assert figures.cache_hit_rate == pytest.approx(hits / count)


@pytest.mark.parametrize("fraction", [0.5, 0.95])
@pytest.mark.parametrize("span", RANGES)
def test_overhead_percentile_brackets_the_exact_sql_value(
    seeded: list, span: str, fraction: float
) -> None:
    f = filters(range=span)
    condition, params = where(f)
    (count,) = expected(f, "COUNT(*)")
    rank = -(-int(fraction * 100) * count // 100)  # ceil(fraction * count), exactly
    ((exact,),) = sql(
        f"SELECT overhead_ms FROM requestlog_requestlog WHERE {condition} "
        "ORDER BY overhead_ms LIMIT 1 OFFSET %s",
        [*params, rank - 1],
    )
    headline = stats.headline(f)
    result = headline.overhead_p50 if fraction == 0.5 else headline.overhead_p95
    assert result.low <= exact
    assert result.high is None or exact < result.high
    assert result.low <= result.value <= (result.high or result.low)


@pytest.mark.parametrize("dimension", list(stats.DIMENSIONS))
def test_each_breakdown_matches_sql_group_by(seeded: list, dimension: str) -> None:
    f = filters(range="30d")
    column = stats.DIMENSIONS[dimension]
    condition, params = where(f)
    rows = sql(
        f"SELECT {column}, COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), "
        "SUM(input_tokens + cache_read_tokens + cache_write_tokens), SUM(output_tokens), "
        "SUM(CASE WHEN tokens_before > tokens_after THEN tokens_before - tokens_after ELSE 0 END), "
        "SUM(CASE WHEN cost_source = 'priced' THEN cost_usd END), SUM(cache_hit) "
        f"FROM requestlog_requestlog WHERE {condition} GROUP BY {column}",
        params,
    )
    table = stats.build(f).breakdowns[list(stats.DIMENSIONS).index(dimension)]
    got = {
        line.key: (
            line.figures.requests,
            line.figures.errors,
            line.figures.input_tokens,
            line.figures.output_tokens,
            line.figures.tokens_saved,
            None if line.figures.spend is None else round(float(line.figures.spend), 9),
            line.figures.cache_hits,
        )
        for line in table.lines
    }
    want = {
        key: (n, e, i, o, s, None if spend is None else round(spend, 9), h)
        for key, n, e, i, o, s, spend, h in rows
    }
    assert table.dimension == dimension
    assert got == want


def test_filters_apply_to_the_headline(seeded: list) -> None:
    f = filters(range="30d", family="openai", team="search", status="error")
    count, output = expected(f, "COUNT(*), SUM(output_tokens)")
    figures = stats.headline(f)
    assert count > 0
    assert (figures.requests, figures.output_tokens) == (count, output)


def test_filters_apply_to_every_breakdown(seeded: list) -> None:
    f = filters(range="30d", model="gpt-5")
    (count,) = expected(f, "COUNT(*)")
    dashboard = stats.build(f)
    for table in dashboard.breakdowns:
        assert sum(line.figures.requests for line in table.lines) == count
    assert [line.key for line in dashboard.breakdowns[1].lines] == ["gpt-5"]


def test_filters_apply_to_the_series(seeded: list) -> None:
    f = filters(range="7d", family="anthropic")
    condition, params = where(f)
    rows = sql(
        "SELECT strftime('%Y-%m-%d', created), COUNT(*), SUM(output_tokens) "
        f"FROM requestlog_requestlog WHERE {condition} GROUP BY 1",
        params,
    )
    points = stats.build(f).series
    got = {
        p.start.strftime("%Y-%m-%d"): (p.measures.requests, p.measures.output_tokens)
        for p in points
        if p.measures.requests
    }
    assert got == {day: (n, out) for day, n, out in rows}


def test_a_day_range_has_one_hourly_point_per_hour(seeded: list) -> None:
    f = filters(range="24h")
    condition, params = where(f)
    rows = dict(
        sql(
            "SELECT strftime('%Y-%m-%d %H', created), COUNT(*) "
            f"FROM requestlog_requestlog WHERE {condition} GROUP BY 1",
            params,
        )
    )
    points = stats.build(f).series
    assert len(points) == 24
    assert {p.start.strftime("%Y-%m-%d %H"): p.measures.requests for p in points} == {
        p.start.strftime("%Y-%m-%d %H"): rows.get(p.start.strftime("%Y-%m-%d %H"), 0)
        for p in points
    }


def test_filters_apply_to_recent_rows(seeded: list) -> None:
    f = filters(range="30d", family="gemini", status="error")
    condition, params = where(f)
    ids = [
        row[0]
        for row in sql(
            f"SELECT id FROM requestlog_requestlog WHERE {condition} "
            "ORDER BY created DESC, id DESC LIMIT 50",
            params,
        )
    ]
    recent = stats.recent(f)
    assert ids
    assert [row.id for row in recent] == ids
    assert all(row.family == "gemini" and row.status >= 400 for row in recent)


def test_recent_rows_after_an_id_are_only_the_newer_ones(seeded: list) -> None:
    f = filters(range="30d")
    newest = stats.recent(f, limit=1000)
    cut = sorted(row.id for row in newest)[-3]
    assert sorted(row.id for row in stats.recent(f, after_id=cut)) == sorted(
        row.id for row in newest if row.id > cut
    )


def test_a_custom_range_covers_whole_days() -> None:
    f = filters(range="custom", **{"from": "2026-03-01", "to": "2026-03-03"})
    assert f.range == stats.Range(
        "custom", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)
    )
    assert f.range.bucket == "day"


def test_unreadable_filters_fall_back_to_defaults() -> None:
    f = filters(range="custom", **{"from": "yesterday"}, family="cohere", status="bad")
    assert (f.range.name, f.family, f.status) == ("24h", "", "")
    assert f.range.end == datetime(2026, 3, 10, 13, tzinfo=UTC)


def test_a_breakdown_sorts_by_spend_with_unpriced_lines_last(db: None) -> None:
    rng = random.Random(2)
    rows = [
        seed_row(rng, NOW, model="a", cost_source=CostSource.PRICED, cost_usd=Decimal("0.5")),
        seed_row(rng, NOW, model="b", cost_source=CostSource.UNPRICED, cost_usd=None),
        seed_row(rng, NOW, model="c", cost_source=CostSource.PRICED, cost_usd=Decimal("2")),
    ]
    RequestLog.objects.add_rows(rows)
    table = stats.breakdown_of(filters(), "model", "-spend")
    assert [line.key for line in table.lines] == ["c", "a", "b"]
    assert stats.breakdown_of(filters(), "model", "spend").lines[0].key == "a"


def test_pruned_rows_leave_the_rollup_too(seeded: list) -> None:
    f = filters(range="30d")
    prune(NOW - timedelta(days=10), batch_size=7)
    (count,) = expected(f, "COUNT(*)")
    assert stats.headline(f).requests == count
    assert not Rollup.objects.filter(bucket__lt=NOW - timedelta(days=11)).exists()


def test_a_rebuild_recomputes_the_rollup_from_the_rows(seeded: list) -> None:
    f = filters(range="30d")
    Rollup.objects.all().delete()
    assert stats.headline(f).requests == 0
    assert Rollup.objects.rebuild() == len(seeded)
    (count,) = expected(f, "COUNT(*)")
    assert stats.headline(f).requests == count


def test_week_and_month_ranges_are_whole_utc_days_today_included() -> None:
    week = filters(range="7d").range
    assert (week.start, week.end) == (
        datetime(2026, 3, 4, tzinfo=UTC),
        datetime(2026, 3, 11, tzinfo=UTC),
    )
    assert (week.grain, week.bucket) == ("day", "day")


def test_a_two_day_custom_range_draws_hours_and_sums_days(seeded: list) -> None:
    f = filters(range="custom", **{"from": "2026-03-08", "to": "2026-03-09"})
    (count,) = expected(f, "COUNT(*)")
    dashboard = stats.build(f)
    assert (f.range.grain, f.range.bucket, len(dashboard.series)) == ("day", "hour", 48)
    assert dashboard.headline.requests == count
    assert sum(p.measures.requests for p in dashboard.series) == count


def test_model_names_past_each_routes_busiest_fifty_are_grouped_as_other(db: None) -> None:
    rng = random.Random(12)
    now = NOW - timedelta(minutes=5)
    rows = [seed_row(rng, now, route_label="*", model=f"busy-{n}") for n in range(50)]
    rows += [seed_row(rng, now, route_label="*", model=f"busy-{n}") for n in range(50)]
    rows += [seed_row(rng, now, route_label="*", model=f"rare-{n}") for n in range(70)]
    RequestLog.objects.add_rows(rows)
    board = stats.build(filters(range="24h"))
    [models] = [b for b in board.breakdowns if b.dimension == "model"]
    keys = {line.key for line in models.lines}
    assert keys == {f"busy-{n}" for n in range(50)} | {stats.OTHER_MODELS}
    other = next(line for line in models.lines if line.key == stats.OTHER_MODELS)
    assert other.figures.requests == 70
    assert board.headline.requests == 170
    assert len(board.options.models) == 51


def crowded_route(rng: random.Random) -> list[RequestLog]:
    """Route "*" with 50 names of two requests and 70 of one; route "glm-" with three names."""
    now = NOW - timedelta(minutes=5)
    rows = [seed_row(rng, now, route_label="*", model=f"busy-{n}") for n in range(50) for _ in "ab"]
    rows += [seed_row(rng, now, route_label="*", model=f"rare-{n}") for n in range(70)]
    rows += [seed_row(rng, now, route_label="glm-", model=f"rare-{n}") for n in range(3)]
    return RequestLog.objects.add_rows(rows)


def test_only_a_crowded_route_groups_its_names_as_other(db: None) -> None:
    crowded_route(random.Random(15))
    board = stats.build(filters(range="24h"))
    [models] = [b for b in board.breakdowns if b.dimension == "model"]
    requests = {line.key: line.figures.requests for line in models.lines}
    # rare-0..2 are grouped on the crowded route and shown on the other one.
    assert requests[stats.OTHER_MODELS] == 70
    assert requests["rare-0"] == requests["rare-2"] == 1
    assert "rare-3" not in requests
    assert sum(requests.values()) == board.headline.requests == 173


def test_the_other_filter_selects_the_grouped_names_in_every_panel(db: None) -> None:
    crowded_route(random.Random(15))
    f = filters(range="24h", model=stats.OTHER_MODELS)
    board = stats.build(f)
    assert board.headline.requests == stats.headline(f).requests == 70
    assert sum(point.measures.requests for point in board.series) == 70
    for table in board.breakdowns:
        assert sum(line.figures.requests for line in table.lines) == 70
    [routes] = [b for b in board.breakdowns if b.dimension == "route"]
    assert [line.key for line in routes.lines] == ["*"]


def test_a_model_filter_on_a_name_grouped_elsewhere_keeps_only_where_it_is_shown(
    db: None,
) -> None:
    crowded_route(random.Random(15))
    f = filters(range="24h", model="rare-1")
    assert stats.headline(f).requests == 1
    assert list(stats.grouped(f, "route")) == ["glm-"]


def test_names_with_equal_requests_are_kept_in_name_order(db: None) -> None:
    now = NOW - timedelta(minutes=5)
    rng = random.Random(16)
    names = [f"m-{n:03d}" for n in range(60)]
    RequestLog.objects.add_rows(
        [seed_row(rng, now, route_label="*", model=name) for name in reversed(names)]
    )
    bounds = stats.model_bounds(filters(range="24h").range)
    assert bounds.kept == {"*": frozenset(names[:50])}
    assert bounds.models == [stats.OTHER_MODELS, *names[:50]]


def test_the_breakdown_export_groups_names_as_the_page_does(db: None) -> None:
    crowded_route(random.Random(15))
    table = stats.breakdown_of(filters(range="24h"), "model")
    assert len(table.lines) == 54
    assert sum(line.figures.requests for line in table.lines) == 173
