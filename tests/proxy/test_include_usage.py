"""SPEC §7: the gateway asks openai chat/completions streams for usage, and hides the answer.

The forwarded body changes only by the bytes that ask; the client receives every byte the
upstream sent except the usage-only chunk it did not ask for.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import TestCase

from proxy import jsonbody
from proxy.sse import Event
from proxy.usage import FilteringEventObserver
from proxy.wire import openai
from requestlog import writer
from requestlog.models import RequestLog
from requestlog.usage import Usage
from tests.conftest import UpstreamSeam

STREAMS = Path(__file__).resolve().parents[1] / "data" / "streams"
CHAT_STREAM = (STREAMS / "openai_chat_include_usage.sse").read_bytes()
AUTH = {"authorization": "Bearer sk-client-secret-123"}
ASK = b'"stream_options":{"include_usage":true}'


def asked(body: bytes, path: str = "/v1/chat/completions") -> bytes | None:
    return openai.ask_for_usage(path, json.loads(body), body)


def test_a_stream_without_stream_options_gets_them_appended() -> None:
    body = b'{"model": "gpt-4o", "stream": true, "messages": []}'
    assert asked(body) == b'{"model": "gpt-4o", "stream": true, "messages": [],' + ASK + b"}"


def test_existing_stream_options_gain_include_usage_and_keep_their_bytes() -> None:
    body = b'{"model":"m","stream":true,"stream_options":{ "other": [1, {"x": 2}] },"n":1}'
    expected = b'{"model":"m","stream":true,"stream_options":{ "other": [1, {"x": 2}] ,'
    assert asked(body) == expected + b'"include_usage":true},"n":1}'


def test_include_usage_false_is_set_to_true() -> None:
    body = b'{"model":"m","stream":true,"stream_options":{"include_usage": false}}'
    assert asked(body) == b'{"model":"m","stream":true,"stream_options":{"include_usage": true}}'


def test_null_stream_options_are_replaced() -> None:
    body = b'{"model":"m","stream":true,"stream_options":null}'
    assert asked(body) == b'{"model":"m","stream":true,' + ASK + b"}"


def test_a_legacy_completions_stream_is_asked_too() -> None:
    body = b'{"model":"m","stream":true,"prompt":"x"}'
    assert (
        asked(body, "/v1/completions") == b'{"model":"m","stream":true,"prompt":"x",' + ASK + b"}"
    )


def test_a_client_that_asked_for_usage_keeps_its_body() -> None:
    assert asked(b'{"model":"m","stream":true,"stream_options":{"include_usage":true}}') is None


def test_a_request_that_does_not_stream_keeps_its_body() -> None:
    assert asked(b'{"model":"m","messages":[]}') is None


def test_a_responses_stream_keeps_its_body_because_it_always_reports_usage() -> None:
    assert asked(b'{"model":"m","stream":true,"input":"x"}', "/v1/responses") is None


def test_malformed_stream_options_are_left_for_the_upstream_to_refuse() -> None:
    assert asked(b'{"model":"m","stream":true,"stream_options":"yes"}') is None


def test_a_member_is_appended_to_an_empty_object_without_a_comma() -> None:
    assert jsonbody.append_member(b"{ }\n", "a", b"1") == b'{ "a":1}\n'


def test_a_nested_member_is_created_with_its_parents() -> None:
    body = b'{"k": "v"}'
    assert jsonbody.set_member(body, ["a", "b"], b"true") == b'{"k": "v","a":{"b":true}}'


def test_a_whole_event_passes_as_the_same_chunk() -> None:
    observer = FilteringEventObserver(openai.read_event, openai.is_usage_chunk)
    chunk = b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n'
    assert observer.feed(chunk) is chunk


def test_an_unfinished_event_waits_until_it_is_complete() -> None:
    observer = FilteringEventObserver(openai.read_event, openai.is_usage_chunk)
    assert observer.feed(b'data: {"choices":[]') == b""
    assert observer.feed(b"}\n\ndata: [DO") == b'data: {"choices":[]}\n\n'
    assert observer.feed(b"NE]\n\n") == b"data: [DONE]\n\n"


def test_an_event_larger_than_the_limit_is_released_as_it_arrives() -> None:
    def never(event: Event) -> bool:
        return False

    observer = FilteringEventObserver(openai.read_event, never, limit=64)
    assert observer.feed(b"data: " + b"x" * 40) == b""
    assert observer.feed(b"y" * 40) == b"data: " + b"x" * 40 + b"y" * 40
    assert observer.feed(b"z\n\n") == b"z\n\n"


def test_a_stream_that_breaks_off_drops_the_held_partial_event() -> None:
    observer = FilteringEventObserver(openai.read_event, openai.is_usage_chunk)
    observer.feed(b'data: {"choices":[{"delta":')
    assert observer.interrupt(b"data: error\n\n", b"{}") == b"data: error\n\n"
    assert observer.close() == b""


def test_the_usage_chunk_is_dropped_while_the_events_around_it_pass() -> None:
    observer = FilteringEventObserver(openai.read_event, openai.is_usage_chunk)
    sent = observer.feed(CHAT_STREAM) + observer.close()
    assert b'"choices":[],' not in sent
    assert sent.endswith(b"\n\ndata: [DONE]\n\n")
    assert observer.usage == Usage(176, 17, 1024, 0)


async def sse(data: bytes) -> AsyncIterator[bytes]:
    for line in data.split(b"\n\n")[:-1]:
        yield line + b"\n\n"


class GatewayIncludeUsageTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam
        upstream_seam.handler = lambda request: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse(CHAT_STREAM)
        )

    async def stream_chat(self, body: bytes) -> tuple[int, bytes]:
        response = await self.async_client.post(
            "/v1/chat/completions", body, content_type="application/json", headers=AUTH
        )
        sent = b"".join([chunk async for chunk in response.streaming_content])
        return response.status_code, sent

    async def test_the_forwarded_body_differs_only_by_the_include_usage_request(self) -> None:
        body = (
            b'{"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
        )
        await self.stream_chat(body)
        [request] = self.seam.requests
        assert request.content == body[:-1] + b"," + ASK + b"}"
        assert request.headers["content-length"] == str(len(request.content))

    async def test_the_client_receives_the_stream_without_the_usage_chunk(self) -> None:
        status, sent = await self.stream_chat(b'{"model":"gpt-4o","stream":true,"messages":[]}')
        usage_event = [e for e in CHAT_STREAM.split(b"\n\n") if b'"choices":[],' in e][0]
        assert status == 200
        assert sent == CHAT_STREAM.replace(usage_event + b"\n\n", b"")
        assert sent.endswith(b"data: [DONE]\n\n")

    async def test_the_hidden_usage_chunk_is_still_logged(self) -> None:
        await self.stream_chat(b'{"model":"gpt-4o","stream":true,"messages":[]}')
        await sync_to_async(writer.flush)()
        row = await RequestLog.objects.aget()
        assert (row.input_tokens, row.output_tokens, row.cache_read_tokens) == (176, 17, 1024)
        assert row.usage_reported

    async def test_a_client_that_asked_for_usage_gets_every_byte_and_its_body_unchanged(
        self,
    ) -> None:
        body = b'{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}'
        status, sent = await self.stream_chat(body)
        assert (status, sent) == (200, CHAT_STREAM)
        assert self.seam.requests[0].content == body

    async def test_a_request_that_does_not_stream_is_forwarded_unchanged(self) -> None:
        body = b'{"model":"gpt-4o","messages":[]}'
        self.seam.handler = lambda request: httpx.Response(200, json={"usage": None})
        response = await self.async_client.post(
            "/v1/chat/completions", body, content_type="application/json", headers=AUTH
        )
        assert response.status_code == 200
        assert self.seam.requests[0].content == body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"model": "gpt-5", "stream": true}', {"model": "gpt-5", "stream": True}),
        (b'{"temperature": NaN}', None),  # only the standard library reads NaN
        ('{"model": "gpt-5"}'.encode("utf-16"), {"model": "gpt-5"}),
        (b'{"text": "\\ud800"}', {"text": "\ud800"}),
        (b"[1, 2]", None),
    ],
)
def test_a_body_is_read_as_the_standard_library_reads_it(body: bytes, expected: object) -> None:
    data = jsonbody.parse_object(body)
    if expected is None and body.startswith(b"{"):
        assert math.isnan(data["temperature"])
    else:
        assert data == expected


@pytest.mark.parametrize("body", [b"{", b'{"model": }', b"\xff\xfe{", b""])
def test_a_body_that_is_not_json_raises_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        jsonbody.parse_object(body)
