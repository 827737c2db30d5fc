"""SPEC §6: every gateway-made error is in the caller's wire format, streams included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from django.test import TestCase, override_settings

from routing.models import UpstreamRoute
from tests.conftest import UpstreamSeam

UNSET = "HR_TEST_ERRORS_UNSET_KEY"
OPENAI = {"authorization": "Bearer sk-client-secret-123"}
ANTHROPIC = {"x-api-key": "sk-ant-client-456", "anthropic-version": "2023-06-01"}
GEMINI = {"x-goog-api-key": "AIza-client-789"}
REFUSED = {"x-headroom-base-url": "https://not-allowed.example"}
CONFLICT = {
    "x-headroom-base-url": "http://127.0.0.1:9",
    "x-headroom-upstream": "http://127.0.0.1:8",
}
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"


def openai_error(message: str, kind: str, code: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def anthropic_error(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}}


def gemini_error(status: int, message: str, name: str) -> dict:
    return {"error": {"code": status, "message": message, "status": name}}


NO_KEY = "no API key was sent with the request"
NO_CREDENTIAL = "the gateway has no credential configured for this upstream"
NOT_ALLOWED = "upstream override refused: the target is not on the allowlist"
CONFLICTING = "x-headroom-base-url and x-headroom-upstream name different upstreams"
TOO_LARGE = "request body is larger than 64 bytes"


class ErrorShapeTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(UNSET, raising=False)
        self.seam = upstream_seam

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, object]:
        response = await self.async_client.post(
            path, body, content_type="application/json", headers=headers
        )
        assert response["content-type"] == "application/json"
        return response.status_code, json.loads(response.content)

    async def env_route(self, prefix: str, protocol: str) -> None:
        await UpstreamRoute.objects.acreate(
            model_prefix=prefix,
            upstream="http://127.0.0.1:9",
            protocol=protocol,
            auth=f"env:{UNSET}",
        )

    # openai

    async def test_openai_malformed_json_is_an_openai_400(self) -> None:
        result = await self.post("/v1/chat/completions", b'{"model": ', OPENAI)
        assert result == (
            400,
            openai_error("request body is not valid JSON", "invalid_request_error", "invalid_json"),
        )

    async def test_openai_missing_model_is_an_openai_400(self) -> None:
        result = await self.post("/v1/embeddings", b'{"input": "x"}', OPENAI)
        expected = openai_error("model is required", "invalid_request_error", "model_required")
        assert result == (400, expected)

    @override_settings(HEADROOM_MAX_BODY_BYTES=64)
    async def test_openai_oversized_body_is_an_openai_413(self) -> None:
        body = json.dumps({"model": "gpt-4o", "input": "x" * 100}).encode()
        result = await self.post("/v1/responses", body, OPENAI)
        expected = openai_error(TOO_LARGE, "invalid_request_error", "request_too_large")
        assert result == (413, expected)

    async def test_openai_missing_credential_is_an_openai_401_and_nothing_is_sent(self) -> None:
        result = await self.post("/v1/chat/completions", b'{"model":"gpt-4o"}', {})
        expected = openai_error(NO_KEY, "authentication_error", "missing_api_key")
        assert (result, self.seam.requests) == ((401, expected), [])

    async def test_openai_refused_override_is_an_openai_403(self) -> None:
        result = await self.post("/v1/responses", b'{"model":"gpt-4o"}', {**OPENAI, **REFUSED})
        expected = openai_error(NOT_ALLOWED, "permission_error", "override_refused")
        assert (result, self.seam.requests) == ((403, expected), [])

    async def test_openai_unset_env_key_is_an_openai_502(self) -> None:
        await self.env_route("gpt-", "openai")
        result = await self.post("/v1/chat/completions", b'{"model":"gpt-4o"}', OPENAI)
        expected = openai_error(NO_CREDENTIAL, "api_error", "credential_missing")
        assert (result, self.seam.requests) == ((502, expected), [])

    # anthropic

    async def test_anthropic_malformed_json_is_an_anthropic_400(self) -> None:
        result = await self.post("/v1/messages", b"{not json", ANTHROPIC)
        expected = anthropic_error("invalid_request_error", "request body is not valid JSON")
        assert result == (400, expected)

    async def test_anthropic_missing_model_is_an_anthropic_400(self) -> None:
        result = await self.post("/v1/messages/count_tokens", b'{"messages": []}', ANTHROPIC)
        assert result == (400, anthropic_error("invalid_request_error", "model is required"))

    @override_settings(HEADROOM_MAX_BODY_BYTES=64)
    async def test_anthropic_oversized_body_is_an_anthropic_413(self) -> None:
        body = json.dumps({"model": "claude-x", "system": "x" * 100}).encode()
        result = await self.post("/v1/messages", body, ANTHROPIC)
        assert result == (413, anthropic_error("request_too_large", TOO_LARGE))

    async def test_anthropic_missing_credential_is_an_anthropic_401(self) -> None:
        headers = {"anthropic-version": "2023-06-01"}
        result = await self.post("/v1/messages", b'{"model":"claude-x"}', headers)
        expected = anthropic_error("authentication_error", NO_KEY)
        assert (result, self.seam.requests) == ((401, expected), [])

    async def test_anthropic_refused_override_is_an_anthropic_403(self) -> None:
        headers = {**ANTHROPIC, **REFUSED}
        result = await self.post("/v1/messages/count_tokens", b'{"model":"claude-x"}', headers)
        expected = anthropic_error("permission_error", NOT_ALLOWED)
        assert (result, self.seam.requests) == ((403, expected), [])

    async def test_anthropic_unset_env_key_is_an_anthropic_502(self) -> None:
        await self.env_route("claude-", "anthropic")
        result = await self.post("/v1/messages", b'{"model":"claude-x"}', ANTHROPIC)
        expected = anthropic_error("api_error", NO_CREDENTIAL)
        assert (result, self.seam.requests) == ((502, expected), [])

    # gemini

    async def test_gemini_missing_model_in_the_path_is_a_gemini_400(self) -> None:
        result = await self.post("/v1beta/models/:generateContent", b"{}", GEMINI)
        expected = gemini_error(400, "model is required", "INVALID_ARGUMENT")
        assert (result, self.seam.requests) == ((400, expected), [])

    async def test_gemini_conflicting_override_headers_are_a_gemini_400(self) -> None:
        result = await self.post(GEMINI_PATH, b"{}", {**GEMINI, **CONFLICT})
        assert result == (400, gemini_error(400, CONFLICTING, "INVALID_ARGUMENT"))

    @override_settings(HEADROOM_MAX_BODY_BYTES=64)
    async def test_gemini_oversized_body_is_a_gemini_413(self) -> None:
        body = json.dumps({"contents": [{"parts": [{"text": "x" * 100}]}]}).encode()
        result = await self.post(GEMINI_PATH, body, GEMINI)
        assert result == (413, gemini_error(413, TOO_LARGE, "INVALID_ARGUMENT"))

    async def test_gemini_missing_credential_is_a_gemini_401(self) -> None:
        result = await self.post(GEMINI_PATH, b"{}", {})
        expected = gemini_error(401, NO_KEY, "UNAUTHENTICATED")
        assert (result, self.seam.requests) == ((401, expected), [])

    async def test_gemini_refused_override_is_a_gemini_403(self) -> None:
        result = await self.post(GEMINI_PATH, b"{}", {**GEMINI, **REFUSED})
        expected = gemini_error(403, NOT_ALLOWED, "PERMISSION_DENIED")
        assert (result, self.seam.requests) == ((403, expected), [])

    async def test_gemini_unset_env_key_is_a_gemini_502(self) -> None:
        await self.env_route("gemini-", "gemini")
        result = await self.post(f"{GEMINI_PATH}?key=AIza-client-789", b"{}", {})
        expected = gemini_error(502, NO_CREDENTIAL, "UNAVAILABLE")
        assert (result, self.seam.requests) == ((502, expected), [])


async def broken_stream(first: bytes) -> AsyncIterator[bytes]:
    yield first
    raise httpx.ReadError("connection reset by peer")


class StreamErrorTests(TestCase):
    """A failure after the status line went out becomes one error event, and the stream ends."""

    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    async def stream(
        self,
        path: str,
        body: bytes,
        headers: dict,
        first: bytes,
        content_type: str = "text/event-stream",
    ) -> bytes:
        self.seam.handler = lambda request: httpx.Response(
            200, headers={"content-type": content_type}, content=broken_stream(first)
        )
        response = await self.async_client.post(
            path, body, content_type="application/json", headers=headers
        )
        assert response.status_code == 200
        return b"".join([chunk async for chunk in response.streaming_content])

    async def test_an_openai_stream_ends_with_one_openai_error_data_line(self) -> None:
        first = b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n'
        body = b'{"model":"gpt-4o","stream":true}'
        sent = await self.stream("/v1/chat/completions", body, OPENAI, first)
        error = openai_error("the upstream request failed", "api_error", "upstream_error")
        assert sent == first + b"data: " + json.dumps(error).encode() + b"\n\n"

    async def test_an_anthropic_stream_ends_with_one_error_event(self) -> None:
        first = b'event: ping\ndata: {"type": "ping"}\n\n'
        body = b'{"model":"claude-x","stream":true}'
        sent = await self.stream("/v1/messages", body, ANTHROPIC, first)
        error = anthropic_error("api_error", "the upstream request failed")
        assert sent == first + b"event: error\ndata: " + json.dumps(error).encode() + b"\n\n"

    async def test_a_gemini_stream_ends_with_one_gemini_error_data_line(self) -> None:
        first = b'data: {"candidates": []}\r\n\r\n'
        path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        sent = await self.stream(path, b"{}", GEMINI, first)
        error = gemini_error(502, "the upstream request failed", "UNAVAILABLE")
        assert sent == first + b"data: " + json.dumps(error).encode() + b"\n\n"

    async def test_a_gemini_json_array_stream_ends_with_the_error_as_its_last_element(self) -> None:
        first = b'[{"candidates": []}\n'
        path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
        sent = await self.stream(path, b"{}", GEMINI, first, "application/json")
        error = gemini_error(502, "the upstream request failed", "UNAVAILABLE")
        assert sent == first + b"," + json.dumps(error).encode() + b"]"
        assert json.loads(sent)[-1] == error

    async def test_an_error_after_half_an_event_starts_on_a_fresh_event(self) -> None:
        first = b'event: content_block_delta\ndata: {"type":'
        body = b'{"model":"claude-x","stream":true}'
        sent = await self.stream("/v1/messages", body, ANTHROPIC, first)
        assert sent.startswith(first + b"\n\nevent: error\ndata: ")
