"""One request-log row per request that reached a view, whatever its outcome (SPEC §9)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import TestCase, TransactionTestCase, override_settings

from keys import issuing
from requestlog import writer
from requestlog.models import RequestLog
from routing.models import UpstreamRoute
from tests.conftest import UpstreamSeam, leave_after_the_first_chunk, stalled_stream

AUTH = {"authorization": "Bearer sk-client-secret-123"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
SSE = [b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n', b"data: [DONE]\n\n"]


async def saved_rows() -> list[RequestLog]:
    await sync_to_async(writer.flush)()
    return [row async for row in RequestLog.objects.order_by("id")]


class RequestLogRowTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    async def post_chat(self, body: object = CHAT, **headers: str) -> httpx.Response:
        return await self.async_client.post(
            "/v1/chat/completions",
            json.dumps(body),
            content_type="application/json",
            headers={**AUTH, **headers},
        )

    async def test_a_successful_request_leaves_one_row_with_its_route_and_timings(self) -> None:
        response = await self.post_chat()
        [row] = await saved_rows()
        assert response.status_code == 200
        assert (row.family, row.endpoint, row.method, row.status) == (
            "openai",
            "/v1/chat/completions",
            "POST",
            200,
        )
        assert (row.model, row.model_forwarded, row.route_label) == (
            "gpt-4o-mini",
            "gpt-4o-mini",
            "default",
        )
        assert (row.upstream_host, row.error_type, row.stream, row.disconnected) == (
            "api.openai.com",
            "",
            False,
            False,
        )
        assert row.request_id == response["x-headroom-request-id"]
        assert row.latency_ms > 0 and row.ttfb_ms is not None and row.overhead_ms >= 0

    async def test_the_row_keeps_the_matched_route_and_its_prefix(self) -> None:
        route = await UpstreamRoute.objects.acreate(
            model_prefix="gpt-", upstream="http://127.0.0.1:9", strip_prefix=True
        )
        await self.post_chat()
        [row] = await saved_rows()
        assert (row.route_id, row.route_label, row.model_forwarded, row.upstream_host) == (
            route.pk,
            "gpt-",
            "4o-mini",
            "127.0.0.1:9",
        )

    async def test_a_gateway_made_400_leaves_one_row_with_its_error_type(self) -> None:
        response = await self.post_chat({"messages": []})
        [row] = await saved_rows()
        assert response.status_code == 400
        assert (row.status, row.error_type, row.upstream_host, row.model) == (
            400,
            "model_required",
            "",
            "",
        )
        assert self.seam.requests == []

    async def test_a_gateway_made_502_for_a_missing_credential_leaves_one_row(self) -> None:
        await UpstreamRoute.objects.acreate(
            model_prefix="*", upstream="http://127.0.0.1:9", auth="env:HR_TEST_UNSET_VARIABLE"
        )
        response = await self.post_chat()
        [row] = await saved_rows()
        assert (response.status_code, row.status, row.error_type) == (
            502,
            502,
            "credential_missing",
        )
        assert self.seam.requests == []

    @override_settings(HEADROOM_MAX_BODY_BYTES=64)
    async def test_a_gateway_made_413_leaves_one_row(self) -> None:
        response = await self.post_chat({**CHAT, "pad": "x" * 100})
        [row] = await saved_rows()
        assert (response.status_code, row.status, row.error_type) == (
            413,
            413,
            "request_too_large",
        )
        assert self.seam.requests == []

    async def test_a_refused_override_leaves_one_row(self) -> None:
        response = await self.post_chat(**{"x-headroom-base-url": "http://10.0.0.1"})
        [row] = await saved_rows()
        # The override was refused, so none was used; the error type says why.
        assert (response.status_code, row.status, row.override) == (403, 403, False)
        assert row.error_type and self.seam.requests == []

    async def test_a_rate_limited_request_leaves_one_row_naming_the_team(self) -> None:
        _, secret = await sync_to_async(issuing.issue)(team="payments", requests_per_minute=1)
        await self.post_chat(**{"x-headroom-key": secret})
        response = await self.post_chat(**{"x-headroom-key": secret})
        rows = await saved_rows()
        assert [(r.status, r.team) for r in rows] == [(200, "payments"), (429, "payments")]
        assert response.status_code == 429 and len(self.seam.requests) == 1

    async def test_a_crash_inside_the_gateway_is_a_500_in_the_family_shape_with_a_row(
        self,
    ) -> None:
        def crash(request: httpx.Request) -> httpx.Response:
            raise RuntimeError("-".join(["sk", "secret", "in", "a", "message"]))

        self.seam.handler = crash
        with self.assertLogs("proxy.gateway", "ERROR") as logged:
            response = await self.async_client.post(
                "/v1/messages",
                json.dumps({"model": "claude-x"}),
                content_type="application/json",
                headers={"x-api-key": "k"},
            )
        [row] = await saved_rows()
        assert response.status_code == 500
        assert response.json()["type"] == "error"
        assert (row.status, row.error_type, row.family) == (500, "internal_error", "anthropic")
        assert "RuntimeError" in logged.output[0]
        assert "sk-secret-in-a-message" not in "".join(logged.output)

    async def test_an_unreachable_upstream_leaves_one_row_with_the_transport_error(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        self.seam.handler = refuse
        response = await self.post_chat()
        [row] = await saved_rows()
        assert (response.status_code, row.status, row.error_type) == (
            502,
            502,
            "upstream_unreachable",
        )
        assert row.ttfb_ms is None

    async def test_an_upstream_error_status_is_logged_as_relayed(self) -> None:
        self.seam.handler = lambda request: httpx.Response(503, text="<html>down</html>")
        response = await self.post_chat()
        [row] = await saved_rows()
        assert (response.status_code, row.status, row.error_type) == (503, 503, "")

    async def test_a_streamed_request_leaves_one_row_once_the_stream_ends(self) -> None:
        async def events() -> AsyncIterator[bytes]:
            for event in SSE:
                yield event

        self.seam.handler = lambda request: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=events()
        )
        response = await self.post_chat({**CHAT, "stream": True})
        body = b"".join([chunk async for chunk in response.streaming_content])
        [row] = await saved_rows()
        assert body == b"".join(SSE)
        assert (row.status, row.stream, row.disconnected) == (200, True, False)
        assert row.ttfb_ms is not None and row.ttfb_ms <= row.latency_ms

    async def test_a_stream_that_fails_midway_is_logged_with_the_error(self) -> None:
        async def broken() -> AsyncIterator[bytes]:
            yield SSE[0]
            raise httpx.ReadError("reset")

        self.seam.handler = lambda request: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=broken()
        )
        response = await self.post_chat({**CHAT, "stream": True})
        body = b"".join([chunk async for chunk in response.streaming_content])
        [row] = await saved_rows()
        # The client saw 200 and then an error event; the row records the failure's status.
        assert (response.status_code, b"upstream" in body) == (200, True)
        assert (row.status, row.error_type, row.stream) == (502, "upstream_error", True)

    async def test_no_credential_reaches_the_row(self) -> None:
        await self.post_chat()
        [row] = await saved_rows()
        values = " ".join(str(getattr(row, field.attname)) for field in RequestLog._meta.fields)
        assert "sk-client-secret-123" not in values

    async def test_a_gemini_request_is_logged_without_its_query_key(self) -> None:
        response = await self.async_client.post(
            "/v1beta/models/gemini-2.5-flash:generateContent?key=AIza-secret-key",
            "{}",
            content_type="application/json",
        )
        [row] = await saved_rows()
        values = " ".join(str(getattr(row, field.attname)) for field in RequestLog._meta.fields)
        assert response.status_code == 200
        assert (row.family, row.endpoint) == (
            "gemini",
            "/v1beta/models/gemini-2.5-flash:generateContent",
        )
        assert "AIza-secret-key" not in values


class ClientDisconnectTests(TransactionTestCase):
    """The client leaves mid-stream: driven at the ASGI level so the disconnect is real."""

    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    async def test_a_client_that_leaves_mid_stream_leaves_one_disconnected_row(self) -> None:
        cancelled = asyncio.Event()
        self.seam.handler = stalled_stream(SSE[0], SSE[1], cancelled)
        body = json.dumps({**CHAT, "stream": True}).encode()
        sent = await leave_after_the_first_chunk(body, b"Bearer sk-client")
        await asyncio.wait_for(cancelled.wait(), timeout=5)
        [row] = await saved_rows()
        assert sent[0]["status"] == 200
        assert (row.status, row.stream, row.disconnected) == (200, True, True)
