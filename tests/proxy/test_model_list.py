"""The gateway's own model list: which routes contribute, under which names, with which
credentials, in which shape, cached, and what a failing upstream does."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from unittest import mock

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.http import HttpResponse
from django.test import TestCase

from keys import admission, issuing
from proxy import modellist, modelsource
from proxy.modellist import client_name, select
from proxy.modelsource import Listed
from requestlog import writer
from requestlog.models import RequestLog
from routing.models import UpstreamRoute
from tests.conftest import UpstreamSeam

ENV = {"HR_LIST_OPENAI": "sk-env-list-openai", "HR_LIST_ANTHROPIC": "sk-ant-env-list"}
OPENAI_MODELS = {
    "object": "list",
    "data": [
        {"id": "gpt-5", "object": "model", "created": 1754000000, "owned_by": "openai"},
        {"id": "glm-4.6", "object": "model", "created": 1, "owned_by": "zhipu"},
    ],
}
ANTHROPIC_MODELS = {
    "data": [
        {
            "type": "model",
            "id": "claude-sonnet-4-5",
            "display_name": "Claude Sonnet 4.5",
            "created_at": "2025-09-29T00:00:00Z",
        }
    ],
    "has_more": False,
    "first_id": "claude-sonnet-4-5",
    "last_id": "claude-sonnet-4-5",
}
GEMINI_MODELS = {
    "models": [
        {
            "name": "models/gemini-2.5-flash",
            "displayName": "Gemini 2.5 Flash",
            "inputTokenLimit": 1048576,
            "supportedGenerationMethods": ["generateContent", "countTokens"],
        }
    ]
}


def route(prefix: str, position: int = 0, **fields: object) -> UpstreamRoute:
    return UpstreamRoute(pk=position + 1, position=position, model_prefix=prefix, **fields)


# Names: the pure selection.


def test_a_stripping_route_lists_upstream_models_with_its_prefix_added_back() -> None:
    assert client_name(route("anthropic:", strip_prefix=True), "claude-x") == "anthropic:claude-x"


def test_a_plain_route_lists_only_the_upstream_models_its_prefix_matches() -> None:
    glm = route("glm-")
    assert (client_name(glm, "GLM-4.6"), client_name(glm, "gpt-5")) == ("GLM-4.6", None)


def test_a_star_route_lists_every_upstream_model_even_when_it_strips() -> None:
    assert client_name(route("*", strip_prefix=True), "anything") == "anything"


def test_a_model_is_listed_once_by_the_route_resolution_picks() -> None:
    glm, star = route("glm-", 0), route("*", 1)
    routes = [glm, star]
    chosen = select(
        routes,
        [(glm, [Listed("glm-4.6")]), (star, [Listed("glm-4.6"), Listed("gpt-5"), Listed("gpt-5")])],
    )
    assert [(name, picked.model_prefix) for name, _, picked in chosen] == [
        ("glm-4.6", "glm-"),
        ("gpt-5", "*"),
    ]


def test_a_later_route_does_not_list_a_name_an_earlier_route_would_take() -> None:
    star, glm = route("*", 0), route("glm-", 1)
    chosen = select([star, glm], [(star, []), (glm, [Listed("glm-4.6")])])
    assert chosen == []


def test_upstream_pages_are_parsed_in_each_format() -> None:
    openai, _ = modelsource.parse_openai(OPENAI_MODELS)
    anthropic, _ = modelsource.parse_anthropic({**ANTHROPIC_MODELS, "has_more": True})
    gemini, token = modelsource.parse_gemini({**GEMINI_MODELS, "nextPageToken": "p2"})
    assert (openai[0].id, openai[0].created, openai[0].owned_by) == ("gpt-5", 1754000000, "openai")
    assert (anthropic[0].display_name, anthropic[0].created) == ("Claude Sonnet 4.5", 1759104000)
    assert (gemini[0].id, token) == ("gemini-2.5-flash", "p2")
    assert modelsource.parse_anthropic({**ANTHROPIC_MODELS, "has_more": True})[1] == (
        "claude-sonnet-4-5"
    )


def test_a_page_without_its_list_is_a_failure() -> None:
    with pytest.raises(ValueError):
        modelsource.parse_openai({"error": "nope"})


# Through the gateway, with the upstream seam.


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    # Cached lists, keys and minute counters outlive a test's rolled-back rows.
    admission.reset()
    modelsource.forget()
    cache.clear()
    yield
    admission.reset()
    modelsource.forget()
    cache.clear()


def upstream_lists(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1beta/models":
        return httpx.Response(200, json=GEMINI_MODELS)
    if request.url.host == "ant.test":
        return httpx.Response(200, json=ANTHROPIC_MODELS)
    return httpx.Response(200, json=OPENAI_MODELS)


class ModelListTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> Iterator[None]:
        self.seam = upstream_seam
        upstream_seam.handler = upstream_lists
        with mock.patch.dict(os.environ, ENV):
            yield

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(
            position=0,
            model_prefix="anthropic:",
            strip_prefix=True,
            upstream="http://ant.test",
            protocol="anthropic",
            auth="env:HR_LIST_ANTHROPIC",
        )
        UpstreamRoute.objects.create(
            position=1, model_prefix="glm-", upstream="http://oai.test", auth="env:HR_LIST_OPENAI"
        )
        UpstreamRoute.objects.create(
            position=2, model_prefix="gemini-", upstream="http://gem.test", protocol="gemini"
        )
        UpstreamRoute.objects.create(
            position=3, model_prefix="off-", upstream="http://off.test", enabled=False
        )
        UpstreamRoute.objects.create(position=4, model_prefix="*", upstream="http://all.test")
        cls.key, cls.secret = issuing.issue(team="research", name="laptop", requests_per_minute=100)

    async def get(self, path: str = "/v1/models", **headers: str) -> HttpResponse:
        return await self.async_client.get(path, headers=headers)

    def asked(self) -> dict[str, httpx.Request]:
        return {request.url.host: request for request in self.seam.requests}

    async def test_the_openai_list_names_each_model_as_the_client_must_send_it(self) -> None:
        response = await self.get(authorization=f"Bearer {self.secret}")
        assert response.status_code == 200
        body = json.loads(response.content)
        assert body["object"] == "list"
        assert [item["id"] for item in body["data"]] == ["anthropic:claude-sonnet-4-5", "glm-4.6"]
        assert body["data"][1] == {
            "id": "glm-4.6",
            "object": "model",
            "created": 1,
            "owned_by": "zhipu",
        }
        assert response["x-headroom-route"] == "gateway"

    async def test_env_routes_are_asked_with_their_own_key_and_never_the_gateway_key(
        self,
    ) -> None:
        await self.get(**{"x-headroom-key": self.secret})
        asked = self.asked()
        assert set(asked) == {"ant.test", "oai.test"}
        assert asked["ant.test"].headers["x-api-key"] == "sk-ant-env-list"
        assert asked["ant.test"].headers["anthropic-version"] == "2023-06-01"
        assert asked["oai.test"].headers["authorization"] == "Bearer sk-env-list-openai"
        assert asked["oai.test"].url.path == "/v1/models"
        for request in self.seam.requests:
            assert self.secret not in str(request.url) + repr(request.headers.raw)

    async def test_passthrough_routes_of_the_callers_family_use_the_callers_own_key(
        self,
    ) -> None:
        response = await self.get(
            **{"x-headroom-key": self.secret, "authorization": "Bearer sk-caller-own"}
        )
        asked = self.asked()
        assert asked["all.test"].headers["authorization"] == "Bearer sk-caller-own"
        # The gemini passthrough route is of another family: the caller's key does not go there.
        assert "gem.test" not in asked
        ids = [item["id"] for item in json.loads(response.content)["data"]]
        assert ids == ["anthropic:claude-sonnet-4-5", "glm-4.6", "gpt-5"]

    async def test_the_anthropic_shape_is_chosen_by_the_anthropic_headers(self) -> None:
        response = await self.get(**{"x-api-key": self.secret, "anthropic-version": "2023-06-01"})
        body = json.loads(response.content)
        assert body["has_more"] is False
        assert (body["first_id"], body["last_id"]) == ("anthropic:claude-sonnet-4-5", "glm-4.6")
        assert body["data"][0] == {
            "type": "model",
            "id": "anthropic:claude-sonnet-4-5",
            "display_name": "Claude Sonnet 4.5",
            "created_at": "2025-09-29T00:00:00Z",
        }
        assert body["data"][1]["created_at"] == "1970-01-01T00:00:01Z"

    async def test_the_gemini_list_uses_the_callers_gemini_key_on_gemini_routes(self) -> None:
        response = await self.get(
            "/v1beta/models", **{"x-headroom-key": self.secret, "x-goog-api-key": "AIza-own"}
        )
        asked = self.asked()
        assert asked["gem.test"].headers["x-goog-api-key"] == "AIza-own"
        assert asked["gem.test"].url.path == "/v1beta/models"
        models = json.loads(response.content)["models"]
        assert [model["name"] for model in models] == [
            "models/anthropic:claude-sonnet-4-5",
            "models/glm-4.6",
            "models/gemini-2.5-flash",
        ]
        assert models[2]["inputTokenLimit"] == 1048576
        assert models[0]["supportedGenerationMethods"]

    async def test_a_failing_upstream_contributes_nothing_and_the_list_still_answers(
        self,
    ) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.host == "ant.test":
                raise httpx.ConnectError("refused")
            if request.url.host == "oai.test":
                return httpx.Response(302, headers={"location": "http://elsewhere.test/"})
            return upstream_lists(request)

        self.seam.handler = handler
        response = await self.get(
            **{"x-headroom-key": self.secret, "authorization": "Bearer sk-caller-own"}
        )
        assert response.status_code == 200
        assert [item["id"] for item in json.loads(response.content)["data"]] == ["gpt-5"]
        assert "elsewhere.test" not in self.asked()

    async def test_an_upstream_that_answers_garbage_contributes_nothing(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.host == "ant.test":
                return httpx.Response(200, content=b"<html>not json</html>")
            if request.url.host == "oai.test":
                return httpx.Response(200, json={"data": "not a list"})
            return upstream_lists(request)

        self.seam.handler = handler
        response = await self.get(**{"x-headroom-key": self.secret})
        assert response.status_code == 200
        assert json.loads(response.content)["data"] == []

    async def test_an_unset_env_key_lists_nothing_for_its_route_and_asks_no_one(self) -> None:
        with mock.patch.dict(os.environ, {"HR_LIST_ANTHROPIC": ""}):
            response = await self.get(**{"x-headroom-key": self.secret})
        assert "ant.test" not in self.asked()
        assert [item["id"] for item in json.loads(response.content)["data"]] == ["glm-4.6"]

    async def test_a_routes_list_is_reused_for_a_while(self) -> None:
        await self.get(**{"x-headroom-key": self.secret})
        await self.get(**{"x-headroom-key": self.secret})
        assert len(self.seam.requests) == 2  # two env routes, asked once each

    async def test_a_list_request_leaves_one_log_row_with_the_team(self) -> None:
        await self.get(**{"x-headroom-key": self.secret})
        await sync_to_async(writer.flush)()
        rows = [row async for row in RequestLog.objects.all()]
        assert len(rows) == 1
        row = rows[0]
        assert (row.team, row.status, row.endpoint, row.method) == (
            "research",
            200,
            "/v1/models",
            "GET",
        )
        assert row.gateway_key_id == self.key.pk

    async def test_without_a_gateway_key_the_list_is_relayed_from_the_star_route(self) -> None:
        response = await self.get(authorization="Bearer sk-caller-own")
        assert [request.url.host for request in self.seam.requests] == ["all.test"]
        assert response["x-headroom-route"] == "*"

    async def test_an_override_relays_that_upstreams_list_as_before(self) -> None:
        response = await self.get(
            **{
                "x-headroom-key": self.secret,
                "authorization": "Bearer sk-caller-own",
                "x-headroom-base-url": "http://oai.test",
            }
        )
        assert response["x-headroom-route"] == "override"
        assert [request.url.host for request in self.seam.requests] == ["oai.test"]

    async def test_an_invalid_gateway_key_is_refused(self) -> None:
        response = await self.get(authorization="Bearer hr-not-a-key")
        assert response.status_code == 401
        assert self.seam.requests == []


# Bounds: how many upstreams are asked at once, and how long the answer waits.


def inbound_for_list() -> object:
    from proxy.inbound import Inbound

    return Inbound("openai", "GET", "/v1/models", "", b"", {"authorization": "Bearer sk-c"}, [])


def test_no_more_than_a_few_upstreams_are_asked_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running, peak = 0, 0

    async def slow_models(source: modelsource.Source) -> tuple[Listed, ...]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return (Listed(f"m{source.route_id}"),)

    monkeypatch.setattr(modellist, "models", slow_models)
    routes = [route("*", position, upstream=f"http://u{position}.test") for position in range(10)]
    listed = asyncio.run(modellist.servable(routes, inbound_for_list(), {}))
    assert peak == modellist.CONCURRENCY
    assert [name for name, _, _ in listed] == ["m1"]  # the first route wins every name


def test_an_upstream_that_does_not_answer_in_time_is_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def models(source: modelsource.Source) -> tuple[Listed, ...]:
        if source.route_id == 1:
            await asyncio.sleep(30)
        return (Listed("glm-4.6"), Listed("kimi-k2"))

    monkeypatch.setattr(modellist, "models", models)
    monkeypatch.setattr(modellist, "TOTAL_SECONDS", 0.1)
    routes = [
        route("glm-", 0, upstream="http://slow.test"),
        route("kimi-", 1, upstream="http://quick.test"),
    ]
    started = time.monotonic()
    listed = asyncio.run(modellist.servable(routes, inbound_for_list(), {}))
    assert time.monotonic() - started < 2
    assert [name for name, _, _ in listed] == ["kimi-k2"]
