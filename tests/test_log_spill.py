"""A gateway stopped while PostgreSQL is down keeps its queued request-log rows in a spill file;
the next start, with the database back, writes them and deletes the file."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import deploy
from tests.conftest import start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream
from tests.test_database_restart import chat, models_logged, wait_for

pytestmark = pytest.mark.skipif(
    deploy.postgres_bin("initdb") is None, reason="needs a PostgreSQL server (initdb) to start"
)


@pytest.fixture
def cluster() -> Iterator[deploy.PostgresCluster]:
    server = deploy.start_postgres()
    try:
        yield server
    finally:
        server.stop()


def test_rows_queued_at_a_stop_while_the_database_is_down_are_written_by_the_next_start(
    cluster: deploy.PostgresCluster, mock_upstream: MockUpstream, tmp_path: Path
) -> None:
    spill_dir = tmp_path / "spill"
    env = {
        "DATABASE_URL": cluster.create_database("headroom"),
        "HEADROOM_LOG_FLUSH_SECONDS": "0.2",
        "HEADROOM_ROUTES_POLL_SECONDS": "0.2",
        "HEADROOM_LOG_SPILL_DIR": str(spill_dir),
    }
    deploy.manage(env, "migrate", "--no-input")
    routes = [{"model_prefix": "*", "upstream": mock_upstream.url}]
    deploy.manage(env, "import_routes", "-", stdin=json.dumps(routes))
    gateway = start_gateway(tmp_path / "first.log", extra_env=env)
    try:
        assert chat(gateway, "before") == 200
        assert wait_for(lambda: models_logged(cluster) == ["before"])
        cluster.halt()
        during = [chat(gateway, f"during-{index}") for index in range(5)]
    finally:
        gateway.process.send_signal(signal.SIGTERM)
        gateway.process.wait(60)

    assert during == [200] * 5
    assert gateway.process.returncode == 0, gateway.log()[-3000:]
    [spilled] = list(spill_dir.glob("requestlog-*.jsonl"))
    text = spilled.read_text()
    assert sorted(json.loads(line)["values"]["model"] for line in text.splitlines()) == [
        f"during-{index}" for index in range(5)
    ]
    assert "sk-client" not in text
    assert "rows dropped" not in gateway.log()

    cluster.resume()
    restarted = start_gateway(tmp_path / "second.log", extra_env=env)
    try:
        # The spilled rows are written before the gateway listens.
        logged = sorted(models_logged(cluster))
        assert logged == sorted(["before", *(f"during-{index}" for index in range(5))])
        assert list(spill_dir.iterdir()) == []
        assert chat(restarted, "after") == 200
        assert wait_for(lambda: "after" in models_logged(cluster))
        assert len(models_logged(cluster)) == 7
    finally:
        stop_gateway(restarted)
