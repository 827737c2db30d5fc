"""A PostgreSQL restart under a running gateway: requests keep being served from the cached
route table, /readyz reports the outage, the log writer keeps its rows and writes them once the
database is back, and the worker recovers without a restart of its own."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests import deploy
from tests.conftest import Gateway, start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream

pytestmark = pytest.mark.skipif(
    deploy.postgres_bin("initdb") is None, reason="needs a PostgreSQL server (initdb) to start"
)
AUTH = {"authorization": "Bearer sk-client"}


@pytest.fixture
def cluster() -> Iterator[deploy.PostgresCluster]:
    server = deploy.start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gateway(
    cluster: deploy.PostgresCluster, mock_upstream: MockUpstream, tmp_path: Path
) -> Iterator[Gateway]:
    env = {
        "DATABASE_URL": cluster.create_database("headroom"),
        "HEADROOM_LOG_FLUSH_SECONDS": "0.2",
        "HEADROOM_ROUTES_POLL_SECONDS": "0.2",
    }
    deploy.manage(env, "migrate", "--no-input")
    routes = [{"model_prefix": "*", "upstream": mock_upstream.url}]
    deploy.manage(env, "import_routes", "-", stdin=json.dumps(routes))
    server = start_gateway(tmp_path / "gateway.log", extra_env=env)
    yield server
    stop_gateway(server)


def chat(gateway: Gateway, model: str) -> int:
    body = {"model": model, "messages": []}
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=AUTH).status_code


def models_logged(cluster: deploy.PostgresCluster) -> list[str]:
    with cluster.connect("headroom") as conn:
        return [row[0] for row in conn.execute("SELECT model FROM requestlog_requestlog")]


def wait_for(condition: object, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():  # type: ignore[operator]
                return True
        except (httpx.HTTPError, psycopg.Error):
            pass
        time.sleep(0.2)
    return False


def test_a_database_restart_loses_no_row_and_needs_no_gateway_restart(
    gateway: Gateway, cluster: deploy.PostgresCluster
) -> None:
    assert chat(gateway, "before") == 200
    assert wait_for(lambda: models_logged(cluster) == ["before"])

    cluster.halt()
    readiness = httpx.get(f"{gateway.url}/readyz")
    during = [chat(gateway, f"during-{index}") for index in range(5)]
    cluster.resume()

    assert readiness.status_code == 503 and readiness.json()["database"] is False
    assert during == [200] * 5
    assert wait_for(lambda: httpx.get(f"{gateway.url}/readyz").status_code == 200)
    assert chat(gateway, "after") == 200
    expected = ["before", *(f"during-{index}" for index in range(5)), "after"]
    assert wait_for(lambda: sorted(models_logged(cluster)) == sorted(expected)), (
        models_logged(cluster),
        gateway.log()[-3000:],
    )
    assert "request log: database unreachable" in gateway.log()
    assert "rows dropped" not in gateway.log()
    assert gateway.process.poll() is None
