"""The response cache at the MockTransport seam: hits and misses for JSON and streams, callers kept
apart, only complete 2xx answers stored, sizes bounded, and a failing cache never fails a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.test import TestCase, TransactionTestCase, override_settings

from proxy import responsecache
from proxy.exchange import Exchange
from proxy.inbound import Inbound
from requestlog import pricing, writer
from requestlog.models import ModelPrice, RequestLog
from routing.models import UpstreamRoute
from tests.conftest import UpstreamSeam, leave_after_the_first_chunk, stalled_stream

ALICE = {"authorization": "Bearer sk-alice"}
BOB = {"authorization": "Bearer sk-bob"}
CHAT = b'{"model":"test-model","messages":[{"role":"user","content":"hi"}]}'
STREAM_REQUEST = (
    b'{"model":"test-model","stream":true,"stream_options":{"include_usage":true},'
    b'"messages":[{"role":"user","content":"hi"}]}'
)
ANSWER = b'{"id":"c1","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":100}}'
EVENTS = (
    b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n',
    b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n',
    b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":100}}\n\n',
    b"data: [DONE]\n\n",
)


@pytest.fixture(autouse=True)
def _empty_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Local memory outlives each test's rolled-back routes, whose ids are reused.
    cache.clear()
    monkeypatch.setattr(responsecache, "ledger", responsecache.Ledger())
    pricing.invalidate()
    yield
    cache.clear()
    pricing.invalidate()


async def pieces(chunks: tuple[bytes, ...]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def json_answer(request: httpx.Request) -> httpx.Response:
    headers = {"content-type": "application/json", "x-request-id": "req_1"}
    return httpx.Response(200, headers=headers, content=ANSWER)


def stream_answer(request: httpx.Request) -> httpx.Response:
    headers = {"content-type": "text/event-stream"}
    return httpx.Response(200, headers=headers, content=pieces(EVENTS))


def broken_answer(request: httpx.Request) -> httpx.Response:
    async def broken() -> AsyncIterator[bytes]:
        yield EVENTS[0]
        raise httpx.ReadError("connection reset")

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=broken())


async def body_of(response: object) -> bytes:
    if response.streaming:  # type: ignore[attr-defined]
        return b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[attr-defined]
    return response.content  # type: ignore[attr-defined]


async def logged_rows() -> list[RequestLog]:
    await sync_to_async(writer.flush)()
    return [row async for row in RequestLog.objects.order_by("id")]


class ResponseCacheTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam
        self.seam.handler = json_answer

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(
            position=0, model_prefix="test-", upstream="http://127.0.0.1:9", cache_ttl=300
        )
        UpstreamRoute.objects.create(position=1, model_prefix="*", upstream="http://127.0.0.1:9")
        ModelPrice.objects.create(pattern="test-", input_per_mtok=3, output_per_mtok=15)

    async def post(
        self, body: bytes = CHAT, path: str = "/v1/chat/completions", **headers: str
    ) -> object:
        return await self.async_client.post(
            path, body, content_type="application/json", headers=ALICE | headers
        )

    async def test_the_first_request_is_a_miss_and_the_second_a_hit(self) -> None:
        first, second = await self.post(), await self.post()
        assert (first["x-headroom-cache"], second["x-headroom-cache"]) == ("miss", "hit")
        assert len(self.seam.requests) == 1

    async def test_a_hit_answers_with_the_same_status_headers_and_body(self) -> None:
        first, second = await self.post(), await self.post()
        assert (second.status_code, second.content) == (first.status_code, first.content)
        assert second["content-type"] == "application/json"
        assert second["x-request-id"] == "req_1"
        assert second["x-headroom-request-id"] != first["x-headroom-request-id"]

    async def test_a_hit_costs_nothing_and_saves_the_original_cost(self) -> None:
        await self.post()
        await self.post()
        miss, hit = await logged_rows()
        assert (miss.cache_hit, hit.cache_hit) == (False, True)
        assert (hit.cost_usd, hit.input_tokens, hit.status) == (Decimal(0), 0, 200)
        # The original request: 1000 input at $3 and 100 output at $15 per million.
        assert miss.cost_usd == Decimal("0.0045") == hit.saved_usd

    async def test_another_caller_with_the_same_body_is_a_miss(self) -> None:
        await self.post()
        other = await self.post(**BOB)
        assert other["x-headroom-cache"] == "miss"
        assert len(self.seam.requests) == 2
        assert self.seam.requests[1].headers["authorization"] == "Bearer sk-bob"

    async def test_another_query_string_is_a_miss(self) -> None:
        await self.post()
        other = await self.post(path="/v1/chat/completions?api-version=2")
        assert other["x-headroom-cache"] == "miss"

    async def test_another_body_is_a_miss(self) -> None:
        await self.post()
        other = await self.post(CHAT.replace(b'"hi"', b'"hello"'))
        assert other["x-headroom-cache"] == "miss"

    async def test_a_bypassed_request_is_neither_served_nor_stored(self) -> None:
        await self.post(**{"x-headroom-bypass": "true"})
        after = await self.post()
        assert after["x-headroom-cache"] == "miss"
        assert len(self.seam.requests) == 2

    async def test_a_route_without_a_ttl_never_touches_the_cache(self) -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(responsecache, "load", None)  # any lookup would fail loudly
            response = await self.post(CHAT.replace(b"test-model", b"other-model"))
        assert response.status_code == 200
        assert "x-headroom-cache" not in response.headers

    async def test_an_error_answer_is_not_stored(self) -> None:
        self.seam.handler = lambda request: httpx.Response(429, json={"error": {"message": "x"}})
        await self.post()
        again = await self.post()
        assert (again.status_code, again["x-headroom-cache"]) == (429, "miss")
        # Each request asked three times (two retries), neither was answered from the cache.
        assert len(self.seam.requests) == 6

    async def test_a_streamed_answer_is_replayed_byte_for_byte(self) -> None:
        self.seam.handler = stream_answer
        first = await self.post(STREAM_REQUEST)
        relayed = await body_of(first)
        second = await self.post(STREAM_REQUEST)
        assert second["x-headroom-cache"] == "hit"
        assert await body_of(second) == relayed == b"".join(EVENTS)
        assert second["content-type"] == "text/event-stream"
        assert second["cache-control"] == "no-cache"
        assert len(self.seam.requests) == 1

    async def test_a_replayed_stream_keeps_the_original_usage_for_its_saving(self) -> None:
        self.seam.handler = stream_answer
        await body_of(await self.post(STREAM_REQUEST))
        await body_of(await self.post(STREAM_REQUEST))
        miss, hit = await logged_rows()
        assert (hit.cache_hit, hit.stream, hit.cost_usd) == (True, True, Decimal(0))
        assert hit.saved_usd == miss.cost_usd == Decimal("0.0045")

    async def test_the_gateway_hidden_usage_chunk_stays_hidden_on_replay(self) -> None:
        self.seam.handler = stream_answer
        hidden = CHAT.replace(b'"model"', b'"stream":true,"model"')
        await body_of(await self.post(hidden))
        replayed = await body_of(await self.post(hidden))
        assert replayed == EVENTS[0] + EVENTS[1] + EVENTS[3]

    async def test_a_stream_that_broke_off_is_not_stored(self) -> None:
        self.seam.handler = broken_answer
        await body_of(await self.post(STREAM_REQUEST))
        self.seam.handler = stream_answer
        again = await self.post(STREAM_REQUEST)
        assert again["x-headroom-cache"] == "miss"
        assert await body_of(again) == b"".join(EVENTS)

    @override_settings(HEADROOM_RESPONSE_CACHE_MAX_ENTRY_BYTES=64)
    async def test_an_answer_over_the_entry_limit_is_not_stored(self) -> None:
        await self.post()
        again = await self.post()
        assert again["x-headroom-cache"] == "miss"

    @override_settings(HEADROOM_RESPONSE_CACHE_MAX_ENTRY_BYTES=64)
    async def test_a_stream_over_the_entry_limit_is_relayed_whole_and_not_stored(self) -> None:
        self.seam.handler = stream_answer
        first = await body_of(await self.post(STREAM_REQUEST))
        again = await self.post(STREAM_REQUEST)
        assert first == b"".join(EVENTS)
        assert again["x-headroom-cache"] == "miss"

    async def test_a_failing_cache_sends_the_request_upstream(self) -> None:
        def broken(*args: object, **kwargs: object) -> None:
            raise ConnectionError("cache is down")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cache, "get", broken)
            patch.setattr(cache, "set", broken)
            response = await self.post()
        assert (response.status_code, response["x-headroom-cache"]) == (200, "miss")
        assert response.content == ANSWER


class AbandonedStreamTests(TransactionTestCase):
    """The client leaves mid-stream, driven at the ASGI level so the disconnect is real."""

    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    async def test_a_stream_the_client_abandoned_is_not_stored(self) -> None:
        await UpstreamRoute.objects.acreate(
            model_prefix="test-", upstream="http://127.0.0.1:9", cache_ttl=300
        )
        cancelled = asyncio.Event()
        self.seam.handler = stalled_stream(EVENTS[0], b"".join(EVENTS[1:]), cancelled)
        await leave_after_the_first_chunk(STREAM_REQUEST, b"Bearer sk-alice")
        await asyncio.wait_for(cancelled.wait(), timeout=5)
        self.seam.handler = stream_answer
        again = await self.async_client.post(
            "/v1/chat/completions", STREAM_REQUEST, content_type="application/json", headers=ALICE
        )
        assert again["x-headroom-cache"] == "miss"
        assert await body_of(again) == b"".join(EVENTS)


# Keys and bounds


def inbound(body: bytes = CHAT, **headers: str) -> Inbound:
    return Inbound(
        family="openai",
        method="POST",
        path="/v1/chat/completions",
        query="",
        body=body,
        headers=headers,
        raw_headers=[],
        model="test-model",
    )


def exchange(key_id: int | None = None) -> Exchange:
    done = Exchange(family="openai", endpoint="/v1/chat/completions", method="POST")
    done.gateway_key_id = key_id
    return done


def test_two_gateway_keys_with_the_same_body_have_different_keys() -> None:
    route = UpstreamRoute(pk=1, model_prefix="*")
    first = responsecache.cache_key(inbound(), route, exchange(key_id=1))
    second = responsecache.cache_key(inbound(), route, exchange(key_id=2))
    assert first != second


def test_the_key_holds_no_credential() -> None:
    route = UpstreamRoute(pk=1, model_prefix="*")
    key = responsecache.cache_key(inbound(**ALICE), route, exchange())
    assert "alice" not in key and key.startswith(responsecache.KEY_PREFIX)


def test_the_same_request_on_another_route_has_another_key() -> None:
    first = responsecache.cache_key(inbound(), UpstreamRoute(pk=1), exchange())
    second = responsecache.cache_key(inbound(), UpstreamRoute(pk=2), exchange())
    assert first != second


def test_another_anthropic_beta_header_is_another_key() -> None:
    route = UpstreamRoute(pk=1, model_prefix="*")
    plain = responsecache.cache_key(inbound(), route, exchange())
    beta = responsecache.cache_key(inbound(**{"anthropic-beta": "x-2025"}), route, exchange())
    assert plain != beta


@override_settings(HEADROOM_RESPONSE_CACHE_MAX_BYTES=250)
def test_the_ledger_evicts_the_oldest_answers_past_the_byte_budget() -> None:
    ledger = responsecache.Ledger()
    assert ledger.admit("a", 100) == []
    assert ledger.admit("b", 100) == []
    assert ledger.admit("c", 100) == ["a"]
    assert (ledger.total, list(ledger.sizes)) == (200, ["b", "c"])


LOCAL_FOUR = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "OPTIONS": {"MAX_ENTRIES": 4},
}


@override_settings(CACHES={"default": LOCAL_FOUR})
def test_the_ledger_keeps_answers_to_half_the_local_cache_entries() -> None:
    ledger = responsecache.Ledger()
    evicted = [ledger.admit(name, 1) for name in "abc"]
    assert evicted == [[], [], ["a"]]


def test_storing_an_answer_again_counts_it_once() -> None:
    ledger = responsecache.Ledger()
    ledger.admit("a", 100)
    ledger.admit("a", 100)
    assert (ledger.total, len(ledger.sizes)) == (100, 1)


@override_settings(HEADROOM_RESPONSE_CACHE_MAX_BYTES=1000)
def test_answers_beyond_the_budget_are_deleted_from_the_cache() -> None:
    entry = responsecache.Entry(200, "OK", (), b"x" * 600, False, None)
    asyncio.run(responsecache.save("headroom:test:first", entry, 60))
    asyncio.run(responsecache.save("headroom:test:second", entry, 60))
    assert cache.get("headroom:test:first") is None
    assert cache.get("headroom:test:second") == entry


def test_the_local_memory_cache_is_bounded_in_entries() -> None:
    if not responsecache.local_memory():
        pytest.skip("CACHE_URL names a shared cache, bounded by its own server")
    assert settings.CACHES["default"]["OPTIONS"]["MAX_ENTRIES"] > 0
