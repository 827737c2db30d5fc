"""The response cache on Redis (CACHE_URL): answers are shared through a real redis-server on
127.0.0.1, expire with the route's TTL, and a Redis that goes away never fails a request."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis
from django.test import override_settings

from proxy import responsecache
from routing.models import UpstreamRoute
from tests.conftest import UpstreamSeam
from tests.deploy import RedisServer, start_redis

AUTH = {"authorization": "Bearer sk-alice"}
CHAT = b'{"model":"test-model","messages":[{"role":"user","content":"hi"}]}'
ANSWER = b'{"id":"c1","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":1}}'


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def redis_cache(redis_server: RedisServer) -> Iterator[redis.Redis]:
    backend = {"BACKEND": "django.core.cache.backends.redis.RedisCache"}
    with override_settings(CACHES={"default": {**backend, "LOCATION": redis_server.url()}}):
        client = redis.Redis(port=redis_server.port)
        client.flushdb()
        yield client
        client.flushdb()


@pytest.fixture
def cached_route(db: None, upstream_seam: UpstreamSeam) -> UpstreamSeam:
    UpstreamRoute.objects.create(model_prefix="test-", upstream="http://127.0.0.1:9", cache_ttl=90)
    upstream_seam.handler = lambda request: httpx.Response(
        200, headers={"content-type": "application/json"}, content=ANSWER
    )
    return upstream_seam


def post(client: object) -> object:
    return client.post(  # type: ignore[attr-defined]
        "/v1/chat/completions", CHAT, content_type="application/json", headers=AUTH
    )


def test_a_stored_answer_lives_in_redis_with_the_route_ttl(
    redis_cache: redis.Redis, cached_route: UpstreamSeam, client: object
) -> None:
    first, second = post(client), post(client)
    [key] = redis_cache.keys(f"*{responsecache.KEY_PREFIX}*")
    assert (first["x-headroom-cache"], second["x-headroom-cache"]) == ("miss", "hit")
    assert second.content == ANSWER  # type: ignore[attr-defined]
    assert len(cached_route.requests) == 1
    assert 0 < redis_cache.ttl(key) <= 90


def test_a_redis_that_went_away_sends_every_request_upstream(
    cached_route: UpstreamSeam, client: object
) -> None:
    backend = {"BACKEND": "django.core.cache.backends.redis.RedisCache"}
    gone = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there
    with override_settings(CACHES={"default": {**backend, "LOCATION": gone}}):
        responses = [post(client), post(client)]
    assert [response.status_code for response in responses] == [200, 200]  # type: ignore[attr-defined]
    assert [response["x-headroom-cache"] for response in responses] == ["miss", "miss"]  # type: ignore[index]
    assert len(cached_route.requests) == 2
