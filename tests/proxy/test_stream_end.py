"""How an event stream ends at the seam: its final event, none (the gateway adds an error
event), or the upstream's own error event (the gateway adds nothing)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from django.test import TestCase

from routing.models import UpstreamRoute
from tests.conftest import UpstreamSeam

AUTH = {"authorization": "Bearer sk-client", "x-api-key": "sk-ant-client"}
CHUNK = b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n'
UPSTREAM_ERROR = b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n'
ANTHROPIC_ERROR = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n'


def sse(*events: bytes) -> httpx.Response:
    async def chunks() -> AsyncIterator[bytes]:
        for event in events:
            yield event

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=chunks())


class StreamEndTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(model_prefix="*", upstream="http://127.0.0.1:9")

    async def relay(self, path: str, *events: bytes) -> bytes:
        self.seam.handler = lambda request: sse(*events)
        body = {"model": "m", "stream": True, "max_tokens": 1, "messages": []}
        response = await self.async_client.post(
            path, json.dumps(body), content_type="application/json", headers=AUTH
        )
        return b"".join([chunk async for chunk in response.streaming_content])

    async def test_a_stream_with_its_final_event_is_relayed_as_it_came(self) -> None:
        events = (CHUNK, b"data: [DONE]\n\n")
        assert await self.relay("/v1/chat/completions", *events) == b"".join(events)

    async def test_a_stream_without_its_final_event_gets_an_error_event(self) -> None:
        body = await self.relay("/v1/chat/completions", CHUNK)
        assert body.startswith(CHUNK)
        error = json.loads(body[len(CHUNK) :].decode().removeprefix("data: "))
        assert error["error"]["code"] == "upstream_incomplete"

    async def test_an_upstream_error_event_ends_the_stream_without_another(self) -> None:
        assert await self.relay("/v1/chat/completions", CHUNK, UPSTREAM_ERROR) == (
            CHUNK + UPSTREAM_ERROR
        )
        assert await self.relay("/v1/messages", ANTHROPIC_ERROR) == ANTHROPIC_ERROR
