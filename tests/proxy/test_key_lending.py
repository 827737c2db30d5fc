"""End to end: an `env:` route lends its key only where the admin meant (the model surfaces of its
protocol by default, or the paths and methods it lists); the caller's account headers stay
behind; a wildcard allowed upstream can never be marked for injection.
"""

from __future__ import annotations

import httpx
import pytest
from django.core.exceptions import ValidationError

from routing.baseurl import AllowEntry, InvalidBaseURL
from routing.models import AllowedUpstream
from routing.routes_file import RoutesFileError, loads
from tests.conftest import E2E_KEYS, Gateway
from tests.mock_upstream import MockUpstream

OPENAI_KEY = E2E_KEYS["HR_TEST_OPENAI_KEY"]
CLIENT = {"authorization": "Bearer sk-client"}


def env_route(mock: MockUpstream, **fields: object) -> dict:
    return {
        "model_prefix": "*",
        "upstream": mock.url,
        "protocol": "openai",
        "auth": "env:HR_TEST_OPENAI_KEY",
        **fields,
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/files"),
        ("GET", "/v1/files/file-abc/content"),
        ("POST", "/v1/batches"),
        ("POST", "/v1/fine_tuning/jobs"),
        ("GET", "/v1/organization/users"),
        ("DELETE", "/v1/models/ft:gpt-4o:acme"),
    ],
)
def test_an_env_route_refuses_to_lend_its_key_beyond_the_model_surfaces(
    gateway: Gateway, mock_upstream: MockUpstream, method: str, path: str
) -> None:
    gateway.routes(env_route(mock_upstream))
    response = httpx.request(
        method, f"{gateway.url}{path}", json={"purpose": "batch"}, headers=CLIENT, timeout=10
    )
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
    assert mock_upstream.requests == []


def test_an_env_route_still_lends_its_key_to_chat_and_models(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes(env_route(mock_upstream))
    chat = {"model": "gpt-4o-mini", "messages": []}
    with httpx.Client(base_url=gateway.url, headers=CLIENT, timeout=10) as client:
        assert client.post("/v1/chat/completions", json=chat).status_code == 200
        assert client.post("/v1/embeddings", json={"model": "e", "input": "x"}).status_code == 200
    assert [request.header("authorization") for request in mock_upstream.requests] == [
        f"Bearer {OPENAI_KEY}"
    ] * 2


def test_a_refused_path_gets_403_in_the_anthropic_format(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes(
        {
            "model_prefix": "*",
            "upstream": mock_upstream.url,
            "protocol": "anthropic",
            "auth": "env:HR_TEST_ANTHROPIC_KEY",
        }
    )
    response = httpx.post(
        f"{gateway.url}/v1/messages/batches",
        json={"requests": []},
        headers={"x-api-key": "sk-client", "anthropic-version": "2023-06-01"},
        timeout=10,
    )
    assert response.status_code == 403
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "permission_error"
    assert mock_upstream.requests == []


def test_a_route_that_lists_a_path_and_method_lends_its_key_there_only(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes(env_route(mock_upstream, allowed_paths="/v1/files", allowed_methods="POST"))
    with httpx.Client(base_url=gateway.url, headers=CLIENT, timeout=10) as client:
        uploaded = client.post("/v1/files", json={"purpose": "batch"})
        listed = client.get("/v1/files")
        chat = client.post("/v1/chat/completions", json={"model": "m", "messages": []})
    assert (uploaded.status_code, listed.status_code, chat.status_code) == (200, 403, 403)
    assert [request.path for request in mock_upstream.requests] == ["/v1/files"]


def test_account_headers_stay_behind_on_env_routes_unless_the_route_forwards_them(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    account = {"openai-organization": "org-other", "openai-project": "proj-other"}
    chat = {"model": "gpt-4o-mini", "messages": []}
    gateway.routes(env_route(mock_upstream))
    httpx.post(
        f"{gateway.url}/v1/chat/completions", json=chat, headers={**CLIENT, **account}, timeout=10
    )
    gateway.routes(env_route(mock_upstream, forward_account_headers=True))
    httpx.post(
        f"{gateway.url}/v1/chat/completions", json=chat, headers={**CLIENT, **account}, timeout=10
    )
    dropped, forwarded = mock_upstream.requests
    assert dropped.header("openai-organization") is None
    assert dropped.header("openai-project") is None
    assert forwarded.header("openai-organization") == "org-other"


def test_a_wildcard_allowed_upstream_cannot_be_marked_for_injection() -> None:
    with pytest.raises(InvalidBaseURL):
        AllowEntry.parse("https://*.example.com", auth="env:OPENAI_API_KEY")
    entry = AllowedUpstream(url="https://*.example.com", auth="env:OPENAI_API_KEY")
    with pytest.raises(ValidationError) as refused:
        entry.full_clean()
    assert "wildcard" in str(refused.value)
    AllowedUpstream(url="https://api.example.com", auth="env:OPENAI_API_KEY").full_clean()


def test_the_routes_file_reads_allowed_paths_and_methods_and_refuses_bad_ones() -> None:
    [route] = loads(
        '[{"model_prefix": "gpt-", "auth": "env:K", "allowed_paths": "/v1/files /v1/batches",'
        ' "allowed_methods": "GET, POST"}]'
    )
    assert (route.allowed_paths, route.allowed_methods) == ("/v1/files /v1/batches", "GET, POST")
    with pytest.raises(RoutesFileError) as refused:
        loads('[{"model_prefix": "gpt-", "allowed_paths": "v1/files", "allowed_methods": "G3T"}]')
    assert "allowed_paths" in str(refused.value) and "allowed_methods" in str(refused.value)
