"""Request and response rules at the MockTransport seam: paths, headers, credentials, 404s."""

from __future__ import annotations

import httpx
import pytest
from django.test import TestCase

from routing.models import UpstreamRoute
from tests.conftest import UpstreamSeam

AUTH = {"authorization": "Bearer sk-client"}


class GatewayRequestTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(model_prefix="*", upstream="http://127.0.0.1:9/base")

    async def test_dot_segments_in_the_path_are_refused_before_any_upstream_contact(self) -> None:
        for path in ("/v1/models/../../admin", "/v1/%2e%2E/admin", "/v1/./models"):
            response = await self.async_client.get(path, headers=AUTH)
            assert response.status_code == 400, path
            assert response.json()["error"]["code"] == "bad_path"
        assert self.seam.requests == []

    async def test_the_path_and_query_are_appended_to_the_base_unchanged(self) -> None:
        await self.async_client.get("/v1/files/file-1/content?limit=2&after=a%2Fb", headers=AUTH)
        assert str(self.seam.requests[0].url) == (
            "http://127.0.0.1:9/base/v1/files/file-1/content?limit=2&after=a%2Fb"
        )

    async def test_hop_by_hop_and_gateway_headers_are_not_forwarded(self) -> None:
        headers = {
            **AUTH,
            "x-headroom-bypass": "true",
            "proxy-authorization": "Basic abc",
            "te": "trailers",
            "cookie": "sessionid=1",
            "x-forwarded-for": "10.1.2.3",
            "openai-organization": "org-1",
        }
        await self.async_client.get("/v1/models", headers=headers)
        sent = self.seam.requests[0].headers
        assert sent["openai-organization"] == "org-1"
        assert sent["authorization"] == "Bearer sk-client"
        for name in ("x-headroom-bypass", "proxy-authorization", "te", "cookie", "x-forwarded-for"):
            assert name not in sent, name
        assert sent["accept-encoding"] == "identity"

    async def test_no_default_client_headers_are_added(self) -> None:
        await self.async_client.get("/v1/models", headers=AUTH)
        sent = self.seam.requests[0].headers
        assert "python-httpx" not in sent.get("user-agent", "")

    async def test_upstream_cookies_and_hop_by_hop_headers_do_not_reach_the_client(self) -> None:
        self.seam.handler = lambda request: httpx.Response(
            200,
            headers=[
                ("set-cookie", "__cf_bm=abc; path=/"),
                ("connection", "close"),
                ("keep-alive", "timeout=5"),
                ("x-request-id", "req_1"),
                ("openai-processing-ms", "12"),
            ],
            json={"ok": True},
        )
        response = await self.async_client.get("/v1/models", headers=AUTH)
        assert response["x-request-id"] == "req_1"
        assert response["openai-processing-ms"] == "12"
        assert "set-cookie" not in response.headers
        assert "keep-alive" not in response.headers
        assert response.cookies == {}

    async def test_gemini_key_query_is_removed_on_an_env_route(self) -> None:
        await UpstreamRoute.objects.all().adelete()
        await UpstreamRoute.objects.acreate(
            model_prefix="gemini-",
            upstream="http://127.0.0.1:9",
            protocol="gemini",
            auth="env:HR_UNIT_GEMINI_KEY",
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HR_UNIT_GEMINI_KEY", "AIza-server")
            await self.async_client.post(
                "/v1beta/models/gemini-2.5-pro:generateContent?key=AIza-client&alt=sse",
                {"contents": []},
                content_type="application/json",
            )
        sent = self.seam.requests[0]
        assert sent.url.query == b"alt=sse"
        assert sent.headers["x-goog-api-key"] == "AIza-server"

    async def test_an_unknown_path_outside_the_api_is_a_json_404(self) -> None:
        response = await self.async_client.get("/nothing-here", headers={"x-api-key": "k"})
        assert response.status_code == 404
        assert response.json()["type"] == "error"
        assert response.json()["error"]["type"] == "not_found_error"

    async def test_a_head_answer_keeps_the_upstreams_content_length(self) -> None:
        self.seam.handler = lambda request: httpx.Response(
            200, headers={"content-length": "149", "content-type": "application/json"}
        )
        response = await self.async_client.head("/v1/models", headers=AUTH)
        assert (response.status_code, response["content-length"]) == (200, "149")

    async def test_models_with_anthropic_headers_answer_in_the_anthropic_shape(self) -> None:
        response = await self.async_client.get(
            "/v1/models", headers={"anthropic-version": "2023-06-01"}
        )
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert self.seam.requests == []


class GeminiPathTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(
            model_prefix="gemini-", upstream="http://127.0.0.1:9", protocol="gemini"
        )

    async def test_a_gemini_v1_path_routes_by_the_model_in_the_path(self) -> None:
        response = await self.async_client.post(
            "/v1/models/gemini-2.5-flash:generateContent",
            {"contents": []},
            content_type="application/json",
            headers={"x-goog-api-key": "AIza-client"},
        )
        assert response["x-headroom-route"] == "gemini-"
        assert str(self.seam.requests[0].url) == (
            "http://127.0.0.1:9/v1/models/gemini-2.5-flash:generateContent"
        )

    async def test_malformed_json_on_a_gemini_model_path_is_a_gemini_shaped_400(self) -> None:
        response = await self.async_client.post(
            "/v1beta/models/gemini-2.5-flash:generateContent",
            b"{not json",
            content_type="application/json",
            headers={"x-goog-api-key": "AIza-client"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
        assert self.seam.requests == []
