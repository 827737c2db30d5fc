"""End to end: a gateway key holds at most its in-flight cap at once; the next request gets 429
with retry-after in its family's format while other keys go on, and slots come back when
requests finish (streams included)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import httpx
import pytest

from keys import admission, issuing
from proxy import inflight
from proxy.errors import GatewayError
from proxy.exchange import Exchange
from tests.conftest import Gateway
from tests.mock_upstream import MockUpstream, Reply

SLOW = Reply.sse([b'data: {"choices":[]}\n\n', b"data: [DONE]\n\n"], delays=[0.0, 1.5])
CHAT = {"model": "gpt-4o-mini", "messages": [], "stream": True}


@pytest.fixture(autouse=True)
def _fresh_keys() -> Iterator[None]:
    admission.reset()
    yield
    admission.reset()


async def chats(url: str, secrets: list[str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def one(secret: str, delay: float) -> httpx.Response:
            await asyncio.sleep(delay)
            headers = {"authorization": "Bearer sk-client", "x-headroom-key": secret}
            return await client.post("/v1/chat/completions", json=CHAT, headers=headers)

        return await asyncio.gather(
            *(one(secret, 0.2 * index) for index, secret in enumerate(secrets))
        )


def test_a_key_past_its_in_flight_cap_gets_429_while_another_key_goes_on(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    _, capped = issuing.issue(team="capped", name="agent", max_in_flight=2)
    _, other = issuing.issue(team="other", name="agent")
    # Waits for the running gateway to pick up the new route and the new keys.
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url, "protocol": "openai"})
    mock_upstream.reply_with(SLOW)
    first, second, third, elsewhere = asyncio.run(
        chats(gateway.url, [capped, capped, capped, other])
    )
    assert (first.status_code, second.status_code, elsewhere.status_code) == (200, 200, 200)
    assert third.status_code == 429
    assert third.headers["retry-after"] == "1"
    assert third.json()["error"]["code"] == "too_many_in_flight"
    # The slots came back when the streams ended.
    [again] = asyncio.run(chats(gateway.url, [capped]))
    assert again.status_code == 200


def test_an_upstream_host_past_its_in_flight_cap_refuses_the_next_request(
    settings: object,
) -> None:
    settings.HEADROOM_MAX_IN_FLIGHT_PER_UPSTREAM = 1  # type: ignore[attr-defined]
    first, second = (Exchange("openai", "/v1/chat/completions", "POST") for _ in range(2))
    first.upstream_host = second.upstream_host = "stalled.example"
    inflight.enter(first, None)
    with pytest.raises(GatewayError) as refused:
        inflight.enter(second, None)
    assert (refused.value.status, refused.value.headers) == (429, {"retry-after": "1"})
    inflight.leave(first)
    inflight.enter(second, None)
    inflight.leave(second)
    assert "stalled.example" not in inflight.in_flight()[1]


def test_an_exchange_dropped_without_being_recorded_frees_its_slot(settings: object) -> None:
    settings.HEADROOM_MAX_IN_FLIGHT_PER_UPSTREAM = 1  # type: ignore[attr-defined]
    dropped = Exchange("openai", "/v1/chat/completions", "POST")
    dropped.upstream_host = "forgotten.example"
    inflight.enter(dropped, None)
    del dropped
    gc.collect()
    later = Exchange("openai", "/v1/chat/completions", "POST")
    later.upstream_host = "forgotten.example"
    inflight.enter(later, None)
    inflight.leave(later)
