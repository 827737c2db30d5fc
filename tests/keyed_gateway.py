"""A real gateway whose gateway keys the test process can issue: both hash keys under one
known secret (the session gateway hashes under whatever SECRET_KEY its environment gives it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from requestlog.models import RequestLog
from tests.conftest import Gateway, start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream

KEY_SECRET = "keyed-gateway-test-key-secret"
ROW_WAIT_SECONDS = 5.0


def start_keyed_gateway(log_path: Path, defaults: MockUpstream) -> Gateway:
    env = {"HEADROOM_KEY_SECRET": KEY_SECRET, "HEADROOM_LOG_FLUSH_SECONDS": "0.2"}
    return start_gateway(log_path, extra_env=env, defaults_url=defaults.url)


@pytest.fixture(scope="module")
def keyed_gateway_server(
    django_db_setup: None,
    upstream_pool: list[MockUpstream],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    log_path = tmp_path_factory.mktemp("keyed-gateway") / "gateway.log"
    server = start_keyed_gateway(log_path, upstream_pool[3])
    yield server
    stop_gateway(server)


@pytest.fixture
def keyed_gateway(
    keyed_gateway_server: Gateway, transactional_db: None, settings: object
) -> Gateway:
    """The running keyed gateway; keys issued by the test are valid there."""
    settings.HEADROOM_KEY_SECRET = KEY_SECRET  # type: ignore[attr-defined]
    return keyed_gateway_server


def wait_for_row(**filters: object) -> RequestLog:
    """The request-log row matching `filters`, once the gateway's writer has saved it."""
    deadline = time.monotonic() + ROW_WAIT_SECONDS
    while time.monotonic() < deadline:
        row = RequestLog.objects.filter(**filters).order_by("-id").first()
        if row is not None:
            return row
        time.sleep(0.05)
    raise AssertionError(f"no request-log row for {filters} within {ROW_WAIT_SECONDS}s")
