"""One caller's unstorable text never costs other callers' request-log rows: 200 requests of
which 20 carry a lone surrogate, a NUL or an over-long value leave exactly 200 rows, on the real
server with SQLite and with PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest

from requestlog.models import RequestLog
from tests import deploy
from tests.conftest import Gateway, start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream, Reply

REQUESTS = 200
# Longest wait for the gateway's writer to save the rows.
ROWS_SECONDS = 15.0
AUTH = {"authorization": "Bearer sk-client"}
JSON = {"content-type": "application/json"}
USAGE = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
# What a hostile caller puts where the row copies it: the model name and the path.
POISONS = [
    ("model", "\ud800"),
    ("model", "\x00"),
    ("model", "z" * 240),  # under the gateway's 256-character limit, over the column's 200
    ("model", "\udfff\x00"),
    ("path", "%00"),
]


def request_for(index: int, tag: str) -> tuple[str, dict]:
    """The path and body of request `index`; every tenth is poisoned, the rest are plain."""
    model, path = f"{tag}-{index}", "/v1/chat/completions"
    if index % 10 == 3:
        where, poison = POISONS[(index // 10) % len(POISONS)]
        if where == "model":
            model += poison
        else:
            path = f"/v1/custom{poison}/{index}"
    return path, {"model": model, "messages": [{"role": "user", "content": "hi"}]}


async def send_all(url: str, tag: str) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=20, headers=AUTH) as client:

        async def one(index: int) -> int:
            path, body = request_for(index, tag)
            # json.dumps escapes a lone surrogate as `\ud800`, as a hostile client would send it.
            content = json.dumps(body).encode()
            return (await client.post(path, content=content, headers=JSON)).status_code

        statuses: list[int] = []
        # Twenty at a time, so poisoned and plain rows share the writer's batches.
        for start in range(0, REQUESTS, 20):
            statuses += await asyncio.gather(*(one(i) for i in range(start, start + 20)))
        return statuses


def wait_for(count: Callable[[], int]) -> int:
    deadline = time.monotonic() + ROWS_SECONDS
    while count() < REQUESTS and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # rows past the expected count would show up by now
    return count()


def send_poisoned_traffic(gateway: Gateway, mock: MockUpstream, tag: str) -> list[int]:
    mock.reply_with(Reply.json({"id": "chatcmpl-1", "object": "chat.completion", "usage": USAGE}))
    return asyncio.run(send_all(gateway.url, tag))


def test_poisoned_requests_leave_every_row_on_sqlite(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url, "protocol": "openai"})
    tag = uuid.uuid4().hex[:8]
    statuses = send_poisoned_traffic(gateway, mock_upstream, tag)
    rows = RequestLog.objects.filter(model__startswith=tag)
    assert wait_for(rows.count) == REQUESTS
    assert sorted(row.status for row in rows) == sorted(statuses)
    assert sum(row.input_tokens for row in rows) == 11 * statuses.count(200)
    assert max(len(row.model) for row in rows) <= 200


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if deploy.missing_servers():
        pytest.skip("needs a PostgreSQL server")
    cluster = deploy.start_postgres()
    try:
        url = cluster.create_database("poisoned")
        deploy.manage({"DATABASE_URL": url}, "migrate", "--no-input")
        yield url
    finally:
        cluster.stop()


def test_poisoned_requests_leave_every_row_on_postgresql(
    postgres_url: str,
    mock_upstream: MockUpstream,
    upstream_pool: list[MockUpstream],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    routes = f'[{{"model_prefix": "*", "upstream": "{mock_upstream.url}", "protocol": "openai"}}]'
    deploy.manage({"DATABASE_URL": postgres_url}, "import_routes", "-", stdin=routes)
    log = tmp_path_factory.mktemp("poisoned") / "gateway.log"
    env = {"DATABASE_URL": postgres_url, "HEADROOM_LOG_FLUSH_SECONDS": "0.5"}
    gateway = start_gateway(log, extra_env=env, defaults_url=upstream_pool[3].url)
    try:
        tag = uuid.uuid4().hex[:8]
        statuses = send_poisoned_traffic(gateway, mock_upstream, tag)
        with psycopg.connect(postgres_url.replace("postgres://", "postgresql://")) as conn:

            def count() -> int:
                sql = "SELECT count(*) FROM requestlog_requestlog WHERE model LIKE %s"
                return conn.execute(sql, [tag + "%"]).fetchone()[0]

            assert wait_for(count) == REQUESTS
            saved = conn.execute(
                "SELECT status, input_tokens, length(model) FROM requestlog_requestlog"
                " WHERE model LIKE %s",
                [tag + "%"],
            ).fetchall()
    finally:
        stop_gateway(gateway)
    assert sorted(status for status, _, _ in saved) == sorted(statuses)
    assert sum(tokens for _, tokens, _ in saved) == 11 * statuses.count(200)
    assert max(length for _, _, length in saved) <= 200
