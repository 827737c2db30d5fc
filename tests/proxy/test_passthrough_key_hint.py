"""A gateway key where a passthrough route expects the provider key: an error that says what to
send instead, and refusals for a missing key that do not use up the key's rate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.http import HttpResponse
from django.test import TestCase

from keys import admission, issuing
from routing.models import UpstreamRoute
from tests.conftest import UpstreamSeam

CHAT = b'{"model": "gpt-5", "messages": []}'
MESSAGE = b'{"model": "claude-sonnet-4", "max_tokens": 5, "messages": []}'
GEMINI_PATH = "/v1beta/models/gemini-2.5-pro:generateContent"


@pytest.fixture(autouse=True)
def _fresh_keys() -> Iterator[None]:
    # Minute counters outlive a test's rolled-back keys, whose ids a later test may reuse.
    admission.reset()
    cache.clear()
    yield
    admission.reset()
    cache.clear()


class PassthroughKeyHintTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(
            position=0, model_prefix="claude-", upstream="http://127.0.0.1:9", protocol="anthropic"
        )
        UpstreamRoute.objects.create(
            position=1, model_prefix="gemini-", upstream="http://127.0.0.1:9", protocol="gemini"
        )
        UpstreamRoute.objects.create(position=2, model_prefix="*", upstream="http://127.0.0.1:9")

    async def issue(self, **fields: object) -> str:
        self.key, secret = await sync_to_async(issuing.issue)(team="research", **fields)
        return secret

    async def post(self, path: str, body: bytes, **headers: str) -> HttpResponse:
        return await self.async_client.post(
            path, body, content_type="application/json", headers=headers
        )

    async def test_an_openai_caller_is_told_to_move_the_gateway_key(self) -> None:
        secret = await self.issue()
        response = await self.post("/v1/chat/completions", CHAT, authorization=f"Bearer {secret}")
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "missing_api_key"
        assert error["message"] == (
            "this route forwards your own provider key: send the gateway key as x-headroom-key "
            "and your provider key as Authorization: Bearer …"
        )
        assert self.seam.requests == []

    async def test_an_anthropic_caller_is_told_to_send_its_key_as_x_api_key(self) -> None:
        secret = await self.issue()
        response = await self.post("/v1/messages", MESSAGE, **{"x-api-key": secret})
        message = response.json()["error"]["message"]
        assert "send the gateway key as x-headroom-key" in message
        assert message.endswith("your provider key as x-api-key")

    async def test_a_gemini_caller_is_told_to_send_its_key_as_x_goog_api_key(self) -> None:
        secret = await self.issue()
        response = await self.post(GEMINI_PATH, b"{}", **{"x-goog-api-key": secret})
        assert response.status_code == 401
        assert response.json()["error"]["message"].endswith("provider key as x-goog-api-key")

    async def test_a_caller_with_no_key_at_all_gets_the_plain_message(self) -> None:
        response = await self.post("/v1/chat/completions", CHAT)
        assert response.json()["error"]["message"] == "no API key was sent with the request"

    async def test_refusals_for_a_missing_provider_key_do_not_use_up_the_rate(self) -> None:
        secret = await self.issue(requests_per_minute=1)
        for _ in range(3):
            refused = await self.post("/v1/messages", MESSAGE, **{"x-headroom-key": secret})
            assert refused.status_code == 401
        headers = {"x-headroom-key": secret, "x-api-key": "sk-ant-own"}
        assert (await self.post("/v1/messages", MESSAGE, **headers)).status_code == 200
        assert (await self.post("/v1/messages", MESSAGE, **headers)).status_code == 429

    async def test_refusals_for_an_invalid_gateway_key_do_not_use_up_the_rate(self) -> None:
        secret = await self.issue(requests_per_minute=1)
        for _ in range(3):
            refused = await self.post(
                "/v1/messages", MESSAGE, **{"x-headroom-key": "hr-wrong", "x-api-key": "sk-a"}
            )
            assert refused.status_code == 401
        headers = {"x-headroom-key": secret, "x-api-key": "sk-ant-own"}
        assert (await self.post("/v1/messages", MESSAGE, **headers)).status_code == 200
