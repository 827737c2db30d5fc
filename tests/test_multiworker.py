"""Two gateway processes on one private PostgreSQL database and Redis server, as workers behind a
load balancer: shared routes, one request log, dashboard figures on PostgreSQL, a cross-worker feed.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import httpx
import psycopg
import pytest
from channels_redis.core import RedisChannelLayer

from tests import deploy
from tests.conftest import Gateway, start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream, Recorded, Reply

pytestmark = pytest.mark.skipif(
    bool(deploy.missing_servers()),
    reason=f"needs PostgreSQL and Redis servers: {', '.join(deploy.missing_servers())} missing",
)

# Longest wait for rows to be written, or for a dashboard message.
ROWS_SECONDS = 10.0
# What the product promises for a route edit to reach every worker.
ROUTE_EDIT_SECONDS = 2.0
STAFF = ("ops", "multiworker-pw-1")
OPENAI_AUTH = {"authorization": "Bearer sk-client"}


def routes_json(pool: list[MockUpstream], edit_target: MockUpstream) -> str:
    return json.dumps(
        [
            {"model_prefix": "gpt-", "upstream": pool[0].url, "protocol": "openai"},
            {"model_prefix": "claude-", "upstream": pool[1].url, "protocol": "anthropic"},
            {"model_prefix": "edit-", "upstream": edit_target.url, "protocol": "openai"},
            {"model_prefix": "*", "upstream": pool[2].url, "protocol": "openai"},
        ]
    )


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[deploy.PostgresCluster, deploy.RedisServer]]:
    with deploy.private_servers() as both:
        yield both


@pytest.fixture(scope="module")
def settings_env(
    servers: tuple[deploy.PostgresCluster, deploy.RedisServer], upstream_pool: list[MockUpstream]
) -> dict[str, str]:
    """The workers' settings: a migrated PostgreSQL database with routes, Redis for the rest."""
    cluster, cache = servers
    env = {
        "DATABASE_URL": cluster.create_database("headroom"),
        "CACHE_URL": cache.url(0),
        "CHANNEL_REDIS_URL": cache.url(1),
    }
    deploy.manage(env, "migrate", "--no-input")
    deploy.manage(env, "import_routes", "-", stdin=routes_json(upstream_pool, upstream_pool[0]))
    return env


@pytest.fixture(scope="module")
def workers(
    settings_env: dict[str, str],
    upstream_pool: list[MockUpstream],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Gateway, Gateway]]:
    """Workers A and B, polling the route table at the product's default interval."""
    logs = tmp_path_factory.mktemp("workers")
    env = {**settings_env, "HEADROOM_ROUTES_POLL_SECONDS": "1", "HEADROOM_LOG_FLUSH_SECONDS": "0.2"}
    first = start_gateway(logs / "a.log", extra_env=env, defaults_url=upstream_pool[3].url)
    try:
        second = start_gateway(logs / "b.log", extra_env=env, defaults_url=upstream_pool[3].url)
    except BaseException:
        stop_gateway(first)
        raise
    try:
        yield first, second
    finally:
        stop_gateway(second)
        stop_gateway(first)


@pytest.fixture(scope="module")
def database(settings_env: dict[str, str]) -> Iterator[psycopg.Connection]:
    """A direct connection to the workers' database, for reading what they wrote."""
    url = settings_env["DATABASE_URL"].replace("postgres://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def staff_session(settings_env: dict[str, str], workers: tuple[Gateway, Gateway]) -> str:
    """A staff user's session id, from a login through worker A's admin form."""
    create = (
        "from django.contrib.auth.models import User\n"
        f"User.objects.create_user({STAFF[0]!r}, password={STAFF[1]!r}, is_staff=True)"
    )
    deploy.manage(settings_env, "shell", "--no-imports", "-c", create)
    with httpx.Client(base_url=workers[0].url, timeout=10) as client:
        form = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token, form.text
        data = {"username": STAFF[0], "password": STAFF[1], "next": "/admin/"}
        login = client.post("/admin/login/", data={**data, "csrfmiddlewaretoken": token[1]})
        assert login.status_code == 302, login.text
        return client.cookies["sessionid"]


def tag() -> str:
    return uuid.uuid4().hex[:10]


def chat(worker: Gateway, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(
        f"{worker.url}/v1/chat/completions", json=body, headers=OPENAI_AUTH, timeout=10
    )


def models_sent(mock: MockUpstream) -> list[str]:
    return [request.json()["model"] for request in mock.requests]  # type: ignore[index]


def wait_for_rows(database: psycopg.Connection, prefix: str, count: int) -> list[tuple]:
    """The (id, model, status) rows whose model starts with `prefix`, once there are `count`."""
    deadline = time.monotonic() + ROWS_SECONDS
    while True:
        rows = database.execute(
            "SELECT id, model, status FROM requestlog_requestlog WHERE model LIKE %s ORDER BY id",
            [prefix + "%"],
        ).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


# Schema


def test_migrate_builds_every_table_on_a_fresh_postgresql_database(
    servers: tuple[deploy.PostgresCluster, deploy.RedisServer],
) -> None:
    cluster, _ = servers
    env = {"DATABASE_URL": cluster.create_database("fresh")}
    deploy.manage(env, "migrate", "--no-input")
    pending = deploy.manage(env, "showmigrations", "--plan").stdout
    with cluster.connect("fresh") as conn:
        prices = conn.execute("SELECT COUNT(*) FROM requestlog_modelprice").fetchone()[0]
        logs = conn.execute("SELECT COUNT(*) FROM requestlog_requestlog").fetchone()[0]
    assert "[X]" in pending and "[ ]" not in pending
    assert prices > 0
    assert logs == 0


# Routes


def test_both_workers_send_each_model_where_the_imported_routes_say(
    workers: tuple[Gateway, Gateway], mock_upstreams: list[MockUpstream]
) -> None:
    gpt, claude, other = mock_upstreams
    statuses = []
    for worker in workers:
        statuses.append(chat(worker, "gpt-4o-mini").status_code)
        statuses.append(chat(worker, "llama-3").status_code)
        messages = {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": []}
        reply = httpx.post(
            f"{worker.url}/v1/messages", json=messages, headers={"x-api-key": "sk-ant"}, timeout=10
        )
        statuses.append(reply.status_code)
    assert statuses == [200] * 6
    assert models_sent(gpt) == ["gpt-4o-mini", "gpt-4o-mini"]
    assert models_sent(claude) == ["claude-haiku-4-5", "claude-haiku-4-5"]
    assert models_sent(other) == ["llama-3", "llama-3"]


def test_a_route_edit_applies_on_both_workers_within_two_seconds(
    workers: tuple[Gateway, Gateway],
    mock_upstreams: list[MockUpstream],
    upstream_pool: list[MockUpstream],
    settings_env: dict[str, str],
) -> None:
    before, after, _ = mock_upstreams
    assert [chat(worker, "edit-1").status_code for worker in workers] == [200, 200]
    assert models_sent(before) == ["edit-1", "edit-1"]

    deploy.manage(
        settings_env, "import_routes", "--replace", "-", stdin=routes_json(upstream_pool, after)
    )
    edited = time.monotonic()
    took = {}
    while len(took) < len(workers) and time.monotonic() - edited < ROUTE_EDIT_SECONDS + 1:
        for index, worker in enumerate(workers):
            if index not in took:
                chat(worker, f"edit-probe-{index}")
                if f"edit-probe-{index}" in models_sent(after):
                    took[index] = time.monotonic() - edited
        time.sleep(0.05)
    assert sorted(took) == [0, 1], f"picked up after {took}"
    assert max(took.values()) <= ROUTE_EDIT_SECONDS


# The request log


def test_each_request_through_either_worker_writes_exactly_one_row(
    workers: tuple[Gateway, Gateway],
    mock_upstreams: list[MockUpstream],
    database: psycopg.Connection,
) -> None:
    prefix = f"gpt-4o-mini-rows-{tag()}-"
    models = [f"{prefix}{index}" for index in range(10)]
    statuses = [chat(workers[index % 2], model).status_code for index, model in enumerate(models)]
    rows = wait_for_rows(database, prefix, len(models))
    # One more writer interval: a row written twice would show up by now.
    time.sleep(0.5)
    rows = wait_for_rows(database, prefix, len(models))
    assert statuses == [200] * len(models)
    assert sorted(model for _, model, _ in rows) == sorted(models)
    assert {status for _, _, status in rows} == {200}


def test_a_worker_stopped_with_sigterm_writes_its_queued_rows(
    settings_env: dict[str, str],
    mock_upstreams: list[MockUpstream],
    default_upstream: MockUpstream,
    database: psycopg.Connection,
    tmp_path: Path,
) -> None:
    # A writer interval far beyond the test's length: only the shutdown flush can save the rows.
    env = {**settings_env, "HEADROOM_LOG_FLUSH_SECONDS": "600"}
    worker = start_gateway(tmp_path / "c.log", extra_env=env, defaults_url=default_upstream.url)
    prefix = f"gpt-4o-mini-sigterm-{tag()}-"
    models = [f"{prefix}{index}" for index in range(12)]
    try:
        statuses = [chat(worker, model).status_code for model in models]
        queued_before_stop = len(wait_for_rows(database, prefix, 0))
    finally:
        stop_gateway(worker)
    rows = wait_for_rows(database, prefix, len(models))
    assert statuses == [200] * len(models)
    assert worker.process.returncode == 0, worker.log()
    assert queued_before_stop == 0
    assert sorted(model for _, model, _ in rows) == sorted(models)


# The dashboard


def usage_reply(request: Recorded) -> Reply:
    """Usage that differs per request; models ending in -err fail upstream."""
    model = str(request.json()["model"])  # type: ignore[index]
    if model.endswith("-err"):
        return Reply.json({"error": {"message": "overloaded"}}, status=503)
    number = int(model.rsplit("-", 1)[1])
    usage = {"prompt_tokens": 1000 * number + 7, "completion_tokens": 10 * number + 3}
    return Reply.json({"id": "chatcmpl-1", "object": "chat.completion", "usage": usage})


def sql_figures(database: psycopg.Connection, start: str, end: str) -> dict[str, object]:
    """The same figures, as SQL over requestlog_requestlog (an independent path)."""
    head = database.execute(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE status >= 400),"
        " SUM(input_tokens + cache_read_tokens + cache_write_tokens), SUM(output_tokens),"
        " SUM(cost_usd) FILTER (WHERE cost_source = 'priced'),"
        " COUNT(*) FILTER (WHERE cost_source NOT IN ('priced', 'estimated'))"
        " FROM requestlog_requestlog WHERE created >= %s AND created < %s",
        [start, end],
    ).fetchone()
    per_model = database.execute(
        "SELECT model, COUNT(*), SUM(cost_usd) FILTER (WHERE cost_source = 'priced')"
        " FROM requestlog_requestlog WHERE created >= %s AND created < %s GROUP BY model",
        [start, end],
    ).fetchall()
    return {
        "headline": [*head[:4], head[4], head[5]],
        "models": {model: [count, spend] for model, count, spend in per_model},
    }


def test_dashboard_figures_on_postgresql_agree_with_an_sql_aggregate(
    workers: tuple[Gateway, Gateway],
    mock_upstreams: list[MockUpstream],
    settings_env: dict[str, str],
    database: psycopg.Connection,
) -> None:
    gpt, _, other = mock_upstreams
    gpt.reply_with(usage_reply)
    other.reply_with(usage_reply)
    prefix = f"stats-{tag()}-"
    # Five priced rows, two unpriced ones (no price for their model) and an upstream error.
    priced = [f"gpt-4o-mini-{prefix}{n}" for n in range(1, 6)]
    models = [*priced, f"{prefix}local-1", f"{prefix}local-2", f"gpt-4o-{prefix}err"]
    for index, model in enumerate(models):
        chat(workers[index % 2], model)
    assert len(wait_for_rows(database, "gpt-4o-mini-" + prefix, 5)) == 5
    assert len(wait_for_rows(database, prefix, 2)) == 2
    assert len(wait_for_rows(database, f"gpt-4o-{prefix}", 1)) == 1
    # The rollup both workers' writers kept agrees with the rows.
    figures = deploy.dashboard_figures(settings_env)
    expected = sql_figures(database, figures["start"], figures["end"])
    assert figures["headline"][:4] == expected["headline"][:4]
    # One row moved to three days ago (inside the 7-day range, outside the 24-hour one) by hand,
    # which the rollup learns from a rebuild.
    database.execute(
        "UPDATE requestlog_requestlog SET created = created - interval '3 days' WHERE model = %s",
        [f"{prefix}local-2"],
    )
    deploy.manage(settings_env, "rebuild_rollup")

    figures = deploy.dashboard_figures(settings_env)
    expected = sql_figures(database, figures["start"], figures["end"])
    requests, errors, input_tokens, output_tokens, spend, unpriced = figures["headline"]
    assert [requests, errors, input_tokens, output_tokens] == expected["headline"][:4]
    assert Decimal(spend) == expected["headline"][4]
    assert unpriced == expected["headline"][5]
    assert figures["series_requests"] == requests
    week_start, week_end, week_requests = figures["week"]
    assert week_requests == sql_figures(database, week_start, week_end)["headline"][0]
    assert set(figures["models"]) == set(expected["models"])
    for model, (count, model_spend) in expected["models"].items():
        assert figures["models"][model] == [count, str(model_spend)], model
    assert errors >= 1 and unpriced >= 1 and Decimal(spend) > 0
    assert week_requests > requests


def test_the_dashboard_page_renders_from_postgresql(
    workers: tuple[Gateway, Gateway], staff_session: str, database: psycopg.Connection
) -> None:
    page = httpx.get(
        f"{workers[1].url}/dashboard/", cookies={"sessionid": staff_session}, timeout=10
    )
    tile = re.search(
        r'data-tile="requests">\s*<div class="label">[^<]*</div>\s*<div class="value">([^<]+)<',
        page.text,
    )
    count = database.execute(
        # The 24 h range: the last 24 whole hours, the current one included.
        "SELECT COUNT(*) FROM requestlog_requestlog"
        " WHERE created >= date_trunc('hour', now()) - interval '23 hours'"
    ).fetchone()[0]
    assert page.status_code == 200
    assert tile and tile[1].strip() == f"{count:,}"


async def next_row_message(socket: aiohttp.ClientWebSocketResponse, row_id: int) -> dict:
    """The first live message that covers row `row_id` (earlier batches may come first)."""
    async with asyncio.timeout(ROWS_SECONDS):
        while True:
            message = await socket.receive_json()
            if message.get("last_id", 0) >= row_id:
                return message


async def watch_a_request_through_b(
    workers: tuple[Gateway, Gateway],
    session: str,
    database: psycopg.Connection,
    idle_seconds: float = 0.0,
) -> tuple[int, dict]:
    """Connect a dashboard socket to A, stay idle, proxy one request through B, await the news."""
    first, second = workers
    model = f"gpt-4o-mini-live-{tag()}"
    headers = {"cookie": f"sessionid={session}", "origin": first.url}
    url = f"{first.url.replace('http', 'ws', 1)}/dashboard/live/"
    async with aiohttp.ClientSession() as client, client.ws_connect(url, headers=headers) as socket:
        await asyncio.sleep(idle_seconds)
        response = await asyncio.to_thread(chat, second, model)
        assert response.status_code == 200
        rows = await asyncio.to_thread(wait_for_rows, database, model, 1)
        assert len(rows) == 1
        return rows[0][0], await next_row_message(socket, rows[0][0])


def test_a_dashboard_on_worker_a_hears_of_a_request_proxied_by_worker_b(
    workers: tuple[Gateway, Gateway],
    mock_upstreams: list[MockUpstream],
    staff_session: str,
    database: psycopg.Connection,
) -> None:
    row_id, message = asyncio.run(watch_a_request_through_b(workers, staff_session, database))
    assert message == {"type": "rows", "last_id": row_id}


def test_a_dashboard_socket_left_idle_through_several_redis_reads_still_hears_of_rows(
    workers: tuple[Gateway, Gateway],
    mock_upstreams: list[MockUpstream],
    staff_session: str,
    database: psycopg.Connection,
) -> None:
    # The consumer waits on Redis in blocking reads of brpop_timeout seconds; a client socket
    # timeout shorter than that read used to end the socket after a few idle seconds.
    idle = 2 * RedisChannelLayer.brpop_timeout + 2
    watch = watch_a_request_through_b(workers, staff_session, database, idle_seconds=idle)
    row_id, message = asyncio.run(watch)
    assert message == {"type": "rows", "last_id": row_id}


def test_a_postgresql_database_made_before_the_app_split_migrates_with_every_row(
    servers: tuple[deploy.PostgresCluster, deploy.RedisServer],
) -> None:
    cluster, _ = servers
    env = {"DATABASE_URL": cluster.create_database("before_split")}
    for app, name in (("routing", "0002"), ("proxy", "0005")):
        deploy.manage(env, "migrate", app, name, "--no-input")
    with cluster.connect("before_split") as conn:
        conn.execute(
            "INSERT INTO routing_upstreamroute (position, model_prefix, upstream, protocol, auth,"
            " strip_prefix, compression, compression_min_bytes, cache_ttl, enabled, notes, created,"
            " updated) VALUES (1, 'glm-', 'https://ollama.com', 'openai', 'passthrough', false,"
            " '', 0, 0, true, '', now(), now())"
        )
        conn.execute(
            "INSERT INTO proxy_gatewaykey (team, name, prefix, secret_hash, active, created)"
            " VALUES ('payments', 'ci', 'hr-abcde', %s, true, now())",
            ["e" * 64],
        )
        conn.execute(
            "INSERT INTO proxy_requestlog (created, request_id, family, endpoint, method, model,"
            " model_forwarded, route_id, route_label, upstream_host, override, team, status,"
            " error_type, stream, disconnected, latency_ms, overhead_ms, input_tokens,"
            " output_tokens, cache_read_tokens, cache_write_tokens, usage_reported, savings_note,"
            " cache_hit, cost_source) SELECT now() - n * interval '1 hour', 'r' || n, 'openai',"
            " '/v1/chat/completions', 'POST', 'glm-4.6', '', (SELECT min(id) FROM"
            " routing_upstreamroute), 'glm-', 'ollama.com', false, '', 200, '', false, false,"
            " 10, 1.5, 100, 5, 0, 0, true, '', false, 'unpriced' FROM generate_series(1, 40) n"
        )
        conn.commit()
    deploy.manage(env, "migrate", "--no-input")
    with cluster.connect("before_split") as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM keys_gatewaykey), (SELECT count(*) FROM"
            " requestlog_requestlog WHERE route_id IS NOT NULL), (SELECT count(*) FROM"
            " requestlog_modelprice), (SELECT sum(requests) FROM requestlog_rollup"
            " WHERE grain = 'day')"
        ).fetchone()
    assert counts[:2] == (1, 40) and counts[2] > 0 and counts[3] == 40
