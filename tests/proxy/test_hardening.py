"""Request-shape limits in the caller's wire format (header count and size, model name length,
JSON depth), and the admin and dashboard behind a login with CSRF on."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client, TestCase, override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.models import GatewayKey
from proxy.jsondepth import json_deeper_than, more_openers_than
from requestlog.models import RequestLog
from routing.models import AllowedUpstream, UpstreamRoute
from tests.conftest import Gateway, UpstreamSeam
from tests.mock_upstream import MockUpstream

AUTH = {"authorization": "Bearer sk-client"}
# Longest wait for the real server to write a request-log row.
ROW_SECONDS = 10.0


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


class HardeningTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(model_prefix="*", upstream="http://127.0.0.1:9")

    async def chat(self, body: object, **headers: str) -> HttpResponse:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.async_client.post(
            "/v1/chat/completions", raw, content_type="application/json", headers=AUTH | headers
        )

    @override_settings(HEADROOM_MAX_HEADERS=20)
    async def test_too_many_headers_get_431_in_the_callers_shape(self) -> None:
        extra = {f"x-extra-{n}": "1" for n in range(20)}
        response = await self.chat({"model": "gpt-5"}, **extra)
        assert response.status_code == 431
        assert response.json()["error"]["code"] == "too_many_headers"
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert self.seam.requests == []

    @override_settings(HEADROOM_MAX_HEADERS=20)
    async def test_a_request_within_the_header_count_is_forwarded(self) -> None:
        response = await self.chat({"model": "gpt-5"}, **{"x-extra-1": "1"})
        assert response.status_code == 200

    async def test_headers_larger_than_the_limit_get_431_in_the_anthropic_shape(self) -> None:
        response = await self.async_client.post(
            "/v1/messages",
            b'{"model": "claude-sonnet-4"}',
            content_type="application/json",
            headers={"x-api-key": "sk-ant-client", "x-big": "a" * (13 * 1024)},
        )
        assert response.status_code == 431
        assert response.json() == {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "the request headers are larger than 12288 bytes",
            },
        }
        assert self.seam.requests == []

    async def test_a_model_name_over_256_characters_gets_400(self) -> None:
        response = await self.chat({"model": "m" * 257})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "model_too_long"
        assert self.seam.requests == []

    async def test_a_model_name_of_256_characters_is_forwarded(self) -> None:
        assert (await self.chat({"model": "m" * 256})).status_code == 200

    async def test_a_long_gemini_model_in_the_path_gets_invalid_argument(self) -> None:
        response = await self.async_client.post(
            f"/v1beta/models/{'g' * 300}:generateContent",
            b"{}",
            content_type="application/json",
            headers={"x-goog-api-key": "AIza-client"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
        assert self.seam.requests == []

    async def test_json_nested_65_deep_gets_400(self) -> None:
        response = await self.chat({"model": "gpt-5", "tools": nested(64)})
        assert response.status_code == 400
        assert response.json()["error"]["message"] == (
            "the JSON body is nested deeper than 64 levels"
        )
        assert self.seam.requests == []

    async def test_json_nested_64_deep_is_forwarded_unchanged(self) -> None:
        body = json.dumps({"model": "gpt-5", "tools": nested(63)}).encode()
        response = await self.chat(body)
        assert response.status_code == 200
        assert self.seam.requests[0].content == body

    async def test_a_body_nested_a_million_deep_gets_400_not_a_crash(self) -> None:
        response = await self.chat(b'{"model": "gpt-5", "x": ' + b"[" * 1_000_000)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "json_too_deep"

    async def test_brackets_inside_strings_do_not_count_as_nesting(self) -> None:
        response = await self.chat({"model": "gpt-5", "text": "[{" * 500 + '\\"['})
        assert response.status_code == 200

    async def test_the_depth_limit_holds_on_catch_all_paths_too(self) -> None:
        response = await self.async_client.post(
            "/v1/files", json.dumps(nested(100)), content_type="application/json", headers=AUTH
        )
        assert response.status_code == 400
        assert self.seam.requests == []

    async def test_a_body_that_is_not_json_is_not_checked_for_depth(self) -> None:
        response = await self.async_client.post(
            "/v1/audio/transcriptions", b"raw [[[[" * 100, content_type="audio/wav", headers=AUTH
        )
        assert response.status_code == 200


json_values = st.recursive(
    st.none() | st.integers() | st.text(alphabet='[]{}"\\ab'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=3), children, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, limit=st.integers(min_value=0, max_value=12))
def test_the_depth_check_agrees_with_the_parsed_depth(value: Any, limit: int) -> None:
    body = json.dumps(value).encode()
    expected = depth_of(value) > limit if isinstance(value, list | dict) else False
    assert json_deeper_than(body, limit) is expected


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200), limit=st.integers(min_value=0, max_value=12))
def test_the_opener_count_agrees_with_counting(body: bytes, limit: int) -> None:
    assert more_openers_than(body, limit) is (body.count(b"[") + body.count(b"{") > limit)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200))
def test_the_depth_check_never_fails_on_malformed_bodies(body: bytes) -> None:
    assert json_deeper_than(body, 4) in (True, False)


# Through Daphne: the limits answer in JSON there too (Daphne's own cap is 16 KiB of headers).


def test_the_real_server_answers_too_many_headers_with_a_json_431(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url})
    headers = [("authorization", "Bearer sk-client")]
    headers += [(f"x-extra-{n}", "1") for n in range(110)]
    reply = httpx.post(
        f"{gateway.url}/v1/chat/completions", content=b'{"model": "gpt-5"}', headers=headers
    )
    assert reply.status_code == 431
    assert reply.json()["error"]["code"] == "too_many_headers"
    assert mock_upstream.requests == []
    # The refusal is logged like any request; waiting for its row keeps it out of later tests.
    deadline = time.monotonic() + ROW_SECONDS
    while time.monotonic() < deadline and not RequestLog.objects.filter(status=431).exists():
        time.sleep(0.05)
    assert RequestLog.objects.get(status=431).error_type == "too_many_headers"


# Admin and dashboard: login required, CSRF enforced.

PAGES = [
    "/admin/keys/gatewaykey/",
    "/admin/requestlog/requestlog/",
    "/admin/routing/upstreamroute/",
    "/admin/routing/allowedupstream/",
    "/dashboard/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_admin_and_dashboard_pages_send_anonymous_visitors_to_the_login(page: str) -> None:
    response = Client().get(page)
    assert response.status_code == 302
    assert response["location"].startswith("/admin/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_admin_and_dashboard_pages_refuse_a_logged_in_non_staff_user(page: str) -> None:
    client = Client()
    client.force_login(User.objects.create_user("visitor", password="pw"))
    assert client.get(page).status_code == 302


@pytest.fixture
def csrf_admin(db: None) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
    return client


ADMIN_FORMS = [
    ("/admin/keys/gatewaykey/add/", {"team": "t", "active": "on"}, GatewayKey),
    (
        "/admin/routing/upstreamroute/add/",
        {"position": "0", "model_prefix": "x-", "protocol": "openai", "auth": "passthrough"}
        | {"cache_ttl": "0", "retries": "2", "enabled": "on"},
        UpstreamRoute,
    ),
    (
        "/admin/routing/allowedupstream/add/",
        {"url": "https://a.example", "auth": "passthrough", "enabled": "on"},
        AllowedUpstream,
    ),
]


@pytest.mark.parametrize(("page", "data", "model"), ADMIN_FORMS)
def test_admin_forms_refuse_a_post_without_a_csrf_token(
    csrf_admin: Client, page: str, data: dict, model: type
) -> None:
    assert csrf_admin.post(page, data).status_code == 403
    assert not model.objects.exists()


@pytest.mark.parametrize(("page", "data", "model"), ADMIN_FORMS)
def test_the_same_admin_forms_with_their_csrf_token_are_accepted(
    csrf_admin: Client, page: str, data: dict, model: type
) -> None:
    csrf_admin.get(page)
    token = csrf_admin.cookies["csrftoken"].value
    response = csrf_admin.post(page, data | {"csrfmiddlewaretoken": token})
    assert response.status_code in (200, 302)
    assert model.objects.count() == 1
