"""Per-key limits: requests per minute (local cache, a real Redis, two real workers) and the
monthly budget summed from the request log."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import httpx
import pytest
import redis
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.http import HttpResponse
from django.test import TestCase, override_settings
from django.utils import timezone

from keys import admission, issuing, limits
from keys.models import GatewayKey
from requestlog.models import RequestLog
from routing.models import UpstreamRoute
from tests.conftest import Gateway, UpstreamSeam, free_port, start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream

MESSAGE = b'{"model": "claude-sonnet-4", "max_tokens": 5, "messages": []}'
# Longest wait for redis-server to answer.
REDIS_START_SECONDS = 20


@pytest.fixture(autouse=True)
def _fresh_keys() -> Iterator[None]:
    admission.reset()
    cache.clear()
    yield
    admission.reset()


def clear_of_minute_end(seconds: float) -> None:
    """Wait, if need be, so the next `seconds` fall inside one calendar minute (one window)."""
    if time.time() % 60 > 60 - seconds:
        time.sleep(60.5 - time.time() % 60)


@pytest.fixture
def one_window() -> None:
    clear_of_minute_end(5)


def log_row(key: GatewayKey, cost: str | None, created: object = None) -> RequestLog:
    return RequestLog.objects.create(
        created=created or timezone.now(),
        request_id="r",
        family="anthropic",
        endpoint="/v1/messages",
        method="POST",
        team=key.team,
        gateway_key_id=key.pk,
        status=200,
        latency_ms=1.0,
        overhead_ms=1.0,
        cost_usd=None if cost is None else Decimal(cost),
    )


class LimitTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam, one_window: None) -> None:
        self.seam = upstream_seam

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(model_prefix="*", upstream="http://127.0.0.1:9")

    async def issue(self, **fields: object) -> str:
        self.key, secret = await sync_to_async(issuing.issue)(team="research", **fields)
        return secret

    async def send(self, secret: str, path: str = "/v1/messages") -> HttpResponse:
        headers = {"x-headroom-key": secret, "x-api-key": "sk-ant-client"}
        if path.startswith("/v1beta/"):
            headers = {"x-headroom-key": secret, "x-goog-api-key": "AIza-client"}
        body = b"{}" if path.startswith("/v1beta/") else MESSAGE
        return await self.async_client.post(
            path, body, content_type="application/json", headers=headers
        )

    async def test_requests_over_the_rate_get_429_with_retry_after_and_nothing_is_sent(
        self,
    ) -> None:
        secret = await self.issue(requests_per_minute=2)
        statuses = [(await self.send(secret)).status_code for _ in range(2)]
        refused = await self.send(secret)
        assert statuses == [200, 200]
        assert refused.status_code == 429
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert "2 requests per minute" in refused.json()["error"]["message"]
        assert 1 <= int(refused["retry-after"]) <= 60
        assert len(self.seam.requests) == 2

    async def test_a_gemini_caller_over_the_rate_gets_resource_exhausted(self) -> None:
        secret = await self.issue(requests_per_minute=1)
        path = "/v1beta/models/gemini-2.5-pro:generateContent"
        await self.send(secret, path)
        refused = await self.send(secret, path)
        assert refused.status_code == 429
        assert refused.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert refused.has_header("retry-after")

    async def test_each_key_has_its_own_rate(self) -> None:
        first = await self.issue(requests_per_minute=1)
        second = await self.issue(requests_per_minute=1)
        await self.send(first)
        assert (await self.send(second)).status_code == 200
        assert (await self.send(first)).status_code == 429

    async def test_a_key_without_a_rate_is_not_counted(self) -> None:
        secret = await self.issue()
        with mock.patch.object(limits, "count_request", side_effect=AssertionError("counted")):
            assert (await self.send(secret)).status_code == 200

    async def test_a_key_over_its_monthly_budget_gets_429(self) -> None:
        secret = await self.issue(monthly_budget_usd=Decimal("1.00"))
        await sync_to_async(log_row)(self.key, "0.60")
        await sync_to_async(log_row)(self.key, "0.40")
        refused = await self.send(secret)
        assert refused.status_code == 429
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert "monthly budget of $1.00" in refused.json()["error"]["message"]
        assert int(refused["retry-after"]) > 0
        assert self.seam.requests == []

    async def test_a_key_under_its_budget_is_let_through(self) -> None:
        secret = await self.issue(monthly_budget_usd=Decimal("1.00"))
        await sync_to_async(log_row)(self.key, "0.99")
        await sync_to_async(log_row)(self.key, None)  # unpriced rows cost nothing known
        assert (await self.send(secret)).status_code == 200

    async def test_last_month_and_other_keys_do_not_count_toward_the_budget(self) -> None:
        secret = await self.issue(monthly_budget_usd=Decimal("1.00"))
        mine = self.key
        other_secret = await self.issue(monthly_budget_usd=Decimal("1.00"))
        last_month = limits.month_start(timezone.now()) - timedelta(seconds=1)
        await sync_to_async(log_row)(mine, "5.00", created=last_month)
        await sync_to_async(log_row)(self.key, "5.00")
        assert (await self.send(secret)).status_code == 200
        assert (await self.send(other_secret)).status_code == 429

    async def test_the_spend_is_reused_briefly_instead_of_summed_per_request(self) -> None:
        secret = await self.issue(monthly_budget_usd=Decimal("1.00"))
        assert (await self.send(secret)).status_code == 200
        await sync_to_async(log_row)(self.key, "2.00")
        with mock.patch.object(limits, "spent_since", side_effect=AssertionError("summed")):
            assert (await self.send(secret)).status_code == 200

    @override_settings(HEADROOM_BUDGET_CACHE_SECONDS=0)
    async def test_the_spend_is_summed_again_once_the_cached_figure_is_stale(self) -> None:
        secret = await self.issue(monthly_budget_usd=Decimal("1.00"))
        assert (await self.send(secret)).status_code == 200
        await sync_to_async(log_row)(self.key, "2.00")
        assert (await self.send(secret)).status_code == 429


def test_a_minute_counter_counts_up_and_a_new_minute_starts_again() -> None:
    assert [limits.count_request(7, 1000) for _ in range(3)] == [1, 2, 3]
    assert limits.count_request(7, 1001) == 1
    assert limits.count_request(8, 1000) == 1


def test_the_month_starts_at_midnight_on_the_first() -> None:
    now = timezone.make_aware(datetime(2026, 3, 17, 15, 4, 5))
    assert limits.month_start(now) == timezone.make_aware(datetime(2026, 3, 1))


# A real Redis on loopback: the counter Django's RedisCache keeps is the one every worker sees.


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    port = free_port()
    directory = tempfile.mkdtemp(prefix="headroom-limits-redis-")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(process, port)
    deadline = time.monotonic() + REDIS_START_SECONDS
    while time.monotonic() < deadline:
        try:
            redis.Redis(port=port, socket_timeout=1).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield server
    finally:
        process.terminate()
        process.wait(10)


def redis_cache(server: RedisServer) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
        }
    }


def test_the_minute_counter_lives_in_redis_when_the_cache_is_redis(
    redis_server: RedisServer,
) -> None:
    with override_settings(CACHES=redis_cache(redis_server)):
        counts = [limits.count_request(41, 5000) for _ in range(3)]
    client = redis.Redis(port=redis_server.port)
    stored = client.keys("*headroom:rpm:41:5000")
    assert counts == [1, 2, 3]
    assert len(stored) == 1
    assert int(client.get(stored[0])) == 3
    assert 0 < client.ttl(stored[0]) <= limits.COUNTER_TTL_SECONDS


def test_while_redis_is_unreachable_each_worker_counts_on_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on this port: every call to the shared cache fails at once.
    gone = RedisServer(mock.Mock(), free_port())
    limits._own_counts.clear()
    with override_settings(CACHES=redis_cache(gone)):
        counts = [limits.count_request(42, 5000) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert sum("shared cache is unreachable" in record.message for record in caplog.records) <= 1


@pytest.mark.django_db(transaction=True)
def test_the_rate_limit_holds_through_the_gateway_with_a_redis_cache(
    redis_server: RedisServer, upstream_seam: UpstreamSeam, client: object, one_window: None
) -> None:
    UpstreamRoute.objects.create(model_prefix="*", upstream="http://127.0.0.1:9")
    key, secret = issuing.issue(team="research", requests_per_minute=2)
    headers = {"x-headroom-key": secret, "x-api-key": "sk-ant-client"}
    with override_settings(CACHES=redis_cache(redis_server)):
        statuses = [
            client.post(  # type: ignore[attr-defined]
                "/v1/messages", MESSAGE, content_type="application/json", headers=headers
            ).status_code
            for _ in range(3)
        ]
    assert statuses == [200, 200, 429]
    assert len(upstream_seam.requests) == 2


# Two real gateway processes sharing one Redis: the limit is per key, not per worker.


@pytest.fixture
def two_workers(
    redis_server: RedisServer,
    upstream_pool: list[MockUpstream],
    tmp_path: Path,
    transactional_db: None,
    settings: object,
) -> Iterator[tuple[Gateway, Gateway]]:
    env = {
        "CACHE_URL": redis_server.url,
        "HEADROOM_KEY_SECRET": "limits-test-key-secret",
        "HEADROOM_LOG_FLUSH_SECONDS": "0.2",
    }
    settings.HEADROOM_KEY_SECRET = env["HEADROOM_KEY_SECRET"]  # type: ignore[attr-defined]
    redis.Redis(port=redis_server.port).flushall()
    first = start_gateway(tmp_path / "first.log", extra_env=env)
    try:
        second = start_gateway(tmp_path / "second.log", extra_env=env)
    except BaseException:
        stop_gateway(first)
        raise
    yield first, second
    stop_gateway(first)
    stop_gateway(second)


def test_two_workers_share_one_rate_limit_through_redis(
    two_workers: tuple[Gateway, Gateway], mock_upstream: MockUpstream
) -> None:
    UpstreamRoute.objects.create(model_prefix="*", upstream=mock_upstream.url)
    key, secret = issuing.issue(team="research", requests_per_minute=3)
    headers = {"x-headroom-key": secret, "x-api-key": "sk-ant-client"}
    time.sleep(0.5)  # both workers' refresh threads read the new route and key
    clear_of_minute_end(5)  # the four requests share one window
    statuses = []
    for worker in (*two_workers, *two_workers):
        reply = httpx.post(f"{worker.url}/v1/messages", content=MESSAGE, headers=headers)
        statuses.append(reply.status_code)
    assert statuses == [200, 200, 200, 429]
    assert len(mock_upstream.requests) == 3
