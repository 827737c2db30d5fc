"""End to end: a gateway stopped with SIGTERM writes every queued request-log row first."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from requestlog.models import RequestLog
from tests.conftest import start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream

REQUESTS = 25


@pytest.mark.django_db(transaction=True)
def test_a_graceful_shutdown_writes_a_row_for_every_request(
    default_upstream: MockUpstream, tmp_path: Path
) -> None:
    # A writer interval far beyond the test's length: only the shutdown flush can save the rows.
    gateway = start_gateway(
        tmp_path / "gateway.log",
        extra_env={"HEADROOM_LOG_FLUSH_SECONDS": "600"},
        defaults_url=default_upstream.url,
    )
    try:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            statuses = [
                client.post(
                    "/v1/chat/completions",
                    json={"model": f"gpt-4o-mini-{index}", "messages": []},
                    headers={"authorization": "Bearer sk-client"},
                ).status_code
                for index in range(REQUESTS)
            ]
        queued_before_stop = RequestLog.objects.count()
    finally:
        stop_gateway(gateway)
    assert statuses == [200] * REQUESTS
    assert gateway.process.returncode == 0, gateway.log()
    assert queued_before_stop == 0
    models = sorted(RequestLog.objects.values_list("model", flat=True))
    assert models == sorted(f"gpt-4o-mini-{index}" for index in range(REQUESTS))
