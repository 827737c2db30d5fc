"""Failures before the first byte at the MockTransport seam: retries, backoff, fallbacks, and
what the response header and the request-log row say about them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from unittest import mock

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import TestCase, override_settings

from proxy import attempts
from requestlog import writer
from requestlog.models import RequestLog
from routing.models import UpstreamRoute
from tests.conftest import UpstreamSeam

AUTH = {"authorization": "Bearer sk-client"}
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
OK = {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


def answers(*outcomes: int | type[Exception]) -> Callable[[httpx.Request], httpx.Response]:
    """A seam handler answering each request with the next outcome: a status or an exception."""
    queue = list(outcomes)

    def handler(request: httpx.Request) -> httpx.Response:
        outcome = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(outcome, int):
            return httpx.Response(outcome, json=OK if outcome == 200 else {"error": "x"})
        raise outcome("simulated", request=request)

    return handler


async def saved_row() -> RequestLog:
    await sync_to_async(writer.flush)()
    return await RequestLog.objects.aget()


class RetryTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(model_prefix="gpt-", upstream="http://127.0.0.1:9/a")

    async def chat(self, path: str = "/v1/chat/completions", body: object = CHAT) -> httpx.Response:
        return await self.async_client.post(
            path, json.dumps(body), content_type="application/json", headers=AUTH
        )

    async def test_a_503_is_retried_and_the_success_relayed(self) -> None:
        self.seam.handler = answers(503, 200)

        response = await self.chat()

        assert response.status_code == 200 and response.json() == OK
        assert len(self.seam.requests) == 2
        row = await saved_row()
        assert (row.status, row.attempts, row.answered_route) == (200, 2, "gpt-")

    async def test_every_retryable_status_is_retried(self) -> None:
        for status in (429, 500, 502, 503, 504, 529):
            self.seam.requests.clear()
            self.seam.handler = answers(status, 200)
            assert (await self.chat()).status_code == 200, status
            assert len(self.seam.requests) == 2, status

    async def test_a_status_not_worth_retrying_is_relayed_at_once(self) -> None:
        for status in (400, 401, 404, 501):
            self.seam.requests.clear()
            self.seam.handler = answers(status)
            assert (await self.chat()).status_code == status
            assert len(self.seam.requests) == 1, status

    async def test_retries_stop_after_the_routes_count_and_the_last_answer_is_relayed(self) -> None:
        self.seam.handler = answers(429)

        response = await self.chat()

        assert response.status_code == 429 and response.json() == {"error": "x"}
        assert len(self.seam.requests) == 3
        assert (await saved_row()).attempts == 3

    async def test_zero_retries_turns_them_off(self) -> None:
        await UpstreamRoute.objects.filter(model_prefix="gpt-").aupdate(retries=0)
        self.seam.handler = answers(503, 200)

        assert (await self.chat()).status_code == 503
        assert len(self.seam.requests) == 1

    async def test_a_refused_connection_is_retried_then_answered_with_502(self) -> None:
        self.seam.handler = answers(httpx.ConnectError)

        response = await self.chat()

        assert response.status_code == 502
        assert response.json()["error"]["code"] == "upstream_unreachable"
        assert len(self.seam.requests) == 3
        row = await saved_row()
        assert (row.status, row.error_type, row.attempts) == (502, "upstream_unreachable", 3)

    async def test_a_read_timeout_waiting_for_headers_is_not_retried(self) -> None:
        self.seam.handler = answers(httpx.ReadTimeout)

        assert (await self.chat()).status_code == 504
        assert len(self.seam.requests) == 1

    async def test_a_file_upload_is_not_retried_after_the_upstream_had_it(self) -> None:
        self.seam.handler = answers(503, 200)

        response = await self.chat("/v1/files", {"purpose": "batch"})

        assert response.status_code == 503
        assert len(self.seam.requests) == 1

    async def test_a_file_upload_is_retried_when_nothing_reached_the_upstream(self) -> None:
        self.seam.handler = answers(httpx.ConnectError, 200)

        assert (await self.chat("/v1/files", {"purpose": "batch"})).status_code == 200
        assert len(self.seam.requests) == 2

    async def test_a_route_may_retry_every_surface(self) -> None:
        # A request without a model is served by a * route.
        await UpstreamRoute.objects.acreate(
            position=9, model_prefix="*", upstream="http://127.0.0.1:9/b", retry_any_surface=True
        )
        self.seam.handler = answers(503, 200)

        assert (await self.chat("/v1/files", {"purpose": "batch"})).status_code == 200
        assert len(self.seam.requests) == 2


class FallbackTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(
            position=0,
            model_prefix="gpt-",
            upstream="http://127.0.0.1:9/primary",
            auth="env:HR_PRIMARY_KEY",
            retries=1,
            fallback="backup:",
        )
        UpstreamRoute.objects.create(
            position=1,
            model_prefix="backup:",
            upstream="http://127.0.0.1:9/backup",
            protocol="anthropic",
            auth="env:HR_BACKUP_KEY",
            retries=0,
        )

    def setUp(self) -> None:
        keys = {"HR_PRIMARY_KEY": "sk-primary-1", "HR_BACKUP_KEY": "sk-backup-2"}
        patcher = mock.patch.dict(os.environ, keys)
        patcher.start()
        self.addCleanup(patcher.stop)

    async def chat(self) -> httpx.Response:
        return await self.async_client.post(
            "/v1/chat/completions", json.dumps(CHAT), content_type="application/json", headers=AUTH
        )

    def by_upstream(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/primary"):
            return httpx.Response(503, json={"error": "down"})
        return httpx.Response(200, json=OK)

    async def test_the_fallback_answers_with_its_own_credentials_when_the_primary_fails(
        self,
    ) -> None:
        self.seam.handler = self.by_upstream

        response = await self.chat()

        assert response.status_code == 200 and response["x-headroom-route"] == "backup:"
        primary, retry, backup = self.seam.requests
        assert primary.url.path == retry.url.path == "/primary/v1/chat/completions"
        assert primary.headers["authorization"] == "Bearer sk-primary-1"
        assert backup.url.path == "/backup/v1/chat/completions"
        # The fallback presents its own key its own way; nothing of the primary's goes with it.
        assert backup.headers["x-api-key"] == "sk-backup-2"
        assert "authorization" not in backup.headers
        assert b"sk-primary-1" not in b"".join(
            name + b"\n" + value for name, value in backup.headers.raw
        )
        row = await saved_row()
        assert (row.status, row.attempts, row.route_label, row.answered_route) == (
            200,
            3,
            "gpt-",
            "backup:",
        )
        assert row.upstream_host == "127.0.0.1:9"

    async def test_a_failing_fallback_answers_with_its_own_failure(self) -> None:
        self.seam.handler = answers(httpx.ConnectError, httpx.ConnectError, 502)

        response = await self.chat()

        assert response.status_code == 502 and response.json() == {"error": "x"}
        assert response["x-headroom-route"] == "backup:"
        assert len(self.seam.requests) == 3

    async def test_a_primary_that_answers_is_not_replaced(self) -> None:
        self.seam.handler = answers(400)

        response = await self.chat()

        assert response.status_code == 400 and response["x-headroom-route"] == "gpt-"
        assert len(self.seam.requests) == 1


class BackoffTests(TestCase):
    @override_settings(HEADROOM_RETRY_BACKOFF_SECONDS=1.0, HEADROOM_RETRY_AFTER_MAX_SECONDS=30)
    def test_backoff_doubles_per_retry_with_jitter(self) -> None:
        for retry, (low, high) in enumerate([(0.5, 1.0), (1.0, 2.0), (2.0, 4.0)], start=1):
            delays = [attempts.backoff(retry, None) for _ in range(50)]
            assert all(low <= delay <= high for delay in delays), retry
            assert len(set(delays)) > 1

    @override_settings(HEADROOM_RETRY_BACKOFF_SECONDS=10.0, HEADROOM_RETRY_AFTER_MAX_SECONDS=3)
    def test_backoff_and_retry_after_are_capped_by_the_setting(self) -> None:
        assert attempts.backoff(4, None) <= 3
        assert attempts.backoff(1, httpx.Response(429, headers={"retry-after": "120"})) == 3

    @override_settings(HEADROOM_RETRY_AFTER_MAX_SECONDS=30)
    def test_retry_after_is_honoured_in_seconds_milliseconds_or_as_a_date(self) -> None:
        def wait(**headers: str) -> float:
            return attempts.backoff(1, httpx.Response(429, headers=headers))

        assert wait(**{"retry-after": "2"}) == 2.0
        assert wait(**{"retry-after-ms": "250", "retry-after": "9"}) == 0.25
        assert wait(**{"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
