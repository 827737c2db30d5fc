"""End to end: the response cache answers only the request it stored. The same body sent with an
allowed override to another upstream reaches that upstream, never the first one's stored answer.
"""

from __future__ import annotations

import time

import httpx

from routing.models import AllowedUpstream
from tests.conftest import ROUTE_PICKUP_SECONDS, Gateway
from tests.mock_upstream import MockUpstream, Reply

AUTH = {"authorization": "Bearer sk-client"}
CHAT = {"model": "gpt-cache-iso", "messages": [{"role": "user", "content": "same body"}]}


def test_an_override_to_another_upstream_is_not_answered_from_the_first_ones_cache(
    gateway: Gateway, mock_upstreams: list[MockUpstream]
) -> None:
    first, other = mock_upstreams[0], mock_upstreams[1]
    first.reply_with(Reply.json({"id": "from-first"}))
    other.reply_with(Reply.json({"id": "from-other"}))
    gateway.routes(
        {"model_prefix": "*", "upstream": first.url, "protocol": "openai", "cache_ttl": 60}
    )
    AllowedUpstream.objects.create(url=other.url)
    time.sleep(ROUTE_PICKUP_SECONDS)
    with httpx.Client(base_url=gateway.url, headers=AUTH, timeout=10) as client:
        stored = client.post("/v1/chat/completions", json=CHAT)
        replayed = client.post("/v1/chat/completions", json=CHAT)
        overridden = client.post(
            "/v1/chat/completions", json=CHAT, headers={"x-headroom-base-url": other.url}
        )
    assert (stored.json()["id"], replayed.json()["id"]) == ("from-first", "from-first")
    assert replayed.headers.get("x-headroom-cache") == "hit"
    assert overridden.json()["id"] == "from-other"
    assert (len(first.requests), len(other.requests)) == (1, 1)
