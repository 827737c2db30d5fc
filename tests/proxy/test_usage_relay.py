"""Usage reaches the request log from every response path: buffered JSON, relayed JSON, streams."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import TestCase

from requestlog import writer
from requestlog.models import RequestLog
from tests.conftest import UpstreamSeam

STREAMS = Path(__file__).resolve().parents[1] / "data" / "streams"
OPENAI = {"authorization": "Bearer sk-client-secret-123"}
ANTHROPIC = {"x-api-key": "sk-ant-client-456", "anthropic-version": "2023-06-01"}
GEMINI = {"x-goog-api-key": "AIza-client-789"}
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash"


def recorded(name: str) -> bytes:
    return (STREAMS / name).read_bytes()


async def pieces(data: bytes, size: int = 37) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def streamed(data: bytes, content_type: str, status: int = 200, **headers: str) -> httpx.Response:
    """A response without a length, relayed as it arrives, in chunks that split events."""
    return httpx.Response(
        status, headers={"content-type": content_type, **headers}, content=pieces(data)
    )


def whole(data: bytes, status: int = 200) -> httpx.Response:
    """A response with a length, read whole by the gateway."""
    return httpx.Response(status, headers={"content-type": "application/json"}, content=data)


async def logged() -> tuple[int, int, int, int, bool]:
    await sync_to_async(writer.flush)()
    row = await RequestLog.objects.aget()
    usage = (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens)
    return (*usage, row.usage_reported)


class UsageFromResponsesTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    def answer(self, response: httpx.Response) -> None:
        self.seam.handler = lambda request: response

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        response = await self.async_client.post(
            path, body, content_type="application/json", headers=headers
        )
        if response.streaming:
            return response.status_code, b"".join(
                [chunk async for chunk in response.streaming_content]
            )
        return response.status_code, response.content

    async def test_a_buffered_json_body_is_read_for_usage(self) -> None:
        body = recorded("anthropic_message.json")
        self.answer(whole(body))
        result = await self.post("/v1/messages", b'{"model":"claude-x"}', ANTHROPIC)
        assert result == (200, body)
        assert await logged() == (2095, 503, 0, 2051, True)

    async def test_a_buffered_embeddings_body_is_read_for_usage(self) -> None:
        self.answer(whole(recorded("openai_embeddings.json")))
        await self.post("/v1/embeddings", b'{"model":"text-embedding-3-small"}', OPENAI)
        assert await logged() == (8, 0, 0, 0, True)

    async def test_a_json_body_without_a_length_is_read_as_it_passes(self) -> None:
        body = recorded("gemini_generate.json")
        self.answer(streamed(body, "application/json; charset=UTF-8"))
        result = await self.post(f"{GEMINI_PATH}:generateContent", b"{}", GEMINI)
        assert result == (200, body)
        assert await logged() == (11, 29, 0, 0, True)

    async def test_an_anthropic_stream_is_read_for_usage_and_relayed_unchanged(self) -> None:
        data = recorded("anthropic_messages.sse")
        self.answer(streamed(data, "text/event-stream; charset=utf-8"))
        result = await self.post("/v1/messages", b'{"model":"claude-x","stream":true}', ANTHROPIC)
        assert result == (200, data)
        assert await logged() == (25, 15, 3000, 1200, True)

    async def test_a_responses_stream_is_read_for_usage_and_relayed_unchanged(self) -> None:
        data = recorded("openai_responses.sse")
        self.answer(streamed(data, "text/event-stream"))
        result = await self.post("/v1/responses", b'{"model":"gpt-4.1","stream":true}', OPENAI)
        assert result == (200, data)
        assert await logged() == (512, 120, 1536, 0, True)

    async def test_a_gemini_alt_sse_stream_is_read_for_usage(self) -> None:
        data = recorded("gemini_alt_sse.sse")
        self.answer(streamed(data, "text/event-stream"))
        result = await self.post(f"{GEMINI_PATH}:streamGenerateContent?alt=sse", b"{}", GEMINI)
        assert result == (200, data)
        assert await logged() == (104, 330, 4096, 0, True)

    async def test_a_gemini_json_array_stream_is_read_for_usage(self) -> None:
        data = recorded("gemini_stream.json")
        self.answer(streamed(data, "application/json; charset=UTF-8"))
        result = await self.post(f"{GEMINI_PATH}:streamGenerateContent", b"{}", GEMINI)
        assert result == (200, data)
        assert await logged() == (104, 330, 4096, 0, True)

    async def test_an_error_status_reports_no_usage(self) -> None:
        body = b'{"error":{"message":"bad"},"usage":{"prompt_tokens":9}}'
        self.answer(whole(body, status=400))
        result = await self.post("/v1/chat/completions", b'{"model":"gpt-4o"}', OPENAI)
        assert result == (400, body)
        assert await logged() == (0, 0, 0, 0, False)

    async def test_a_compressed_body_is_relayed_untouched_and_not_read(self) -> None:
        data = gzip.compress(recorded("anthropic_messages.sse"))
        self.answer(streamed(data, "text/event-stream", **{"content-encoding": "gzip"}))
        result = await self.post("/v1/messages", b'{"model":"claude-x","stream":true}', ANTHROPIC)
        assert result == (200, data)
        assert await logged() == (0, 0, 0, 0, False)

    async def test_a_stream_that_breaks_off_keeps_the_usage_read_so_far(self) -> None:
        start = recorded("anthropic_messages.sse").split(b"\n\n")[0] + b"\n\n"

        async def broken() -> AsyncIterator[bytes]:
            yield start
            yield b"event: content_block_delta\ndata: {"
            raise httpx.ReadError("connection reset")

        self.answer(
            httpx.Response(200, headers={"content-type": "text/event-stream"}, content=broken())
        )
        status, sent = await self.post("/v1/messages", b'{"model":"c","stream":true}', ANTHROPIC)
        assert status == 200
        assert sent.startswith(start + b"event: content_block_delta\ndata: {\n\nevent: error\n")
        assert await logged() == (25, 1, 3000, 1200, True)
