"""End to end: `models.list()` with a gateway key in each official SDK answers the routes'
models, fetched from the routes' upstreams with the routes' own keys."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from keys import issuing
from tests.conftest import E2E_KEYS, Gateway
from tests.keyed_gateway import keyed_gateway, keyed_gateway_server, wait_for_row
from tests.mock_upstream import MockUpstream, Recorded, Reply

__all__ = ["keyed_gateway", "keyed_gateway_server"]  # fixtures used by name

OPENAI_LIST = {
    "object": "list",
    "data": [
        {"id": "gpt-5", "object": "model", "created": 1754000000, "owned_by": "openai"},
        {"id": "o3", "object": "model", "created": 1744000000, "owned_by": "openai"},
    ],
}
ANTHROPIC_LIST = {
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
GEMINI_LIST = {
    "models": [
        {
            "name": "models/gemini-2.5-flash",
            "displayName": "Gemini 2.5 Flash",
            "version": "001",
            "inputTokenLimit": 1048576,
            "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "countTokens"],
        }
    ]
}
EXPECTED = ["anthropic:claude-sonnet-4-5", "gpt-5", "gemini-2.5-flash"]


@pytest.fixture
def routed(keyed_gateway: Gateway, mock_upstreams: list[MockUpstream]) -> Iterator[str]:
    """Three env routes, one per protocol, and a team's key; yields the key."""
    ant, oai, gem = mock_upstreams
    ant.reply_with(Reply.json(ANTHROPIC_LIST))
    oai.reply_with(Reply.json(OPENAI_LIST))
    gem.reply_with(Reply.json(GEMINI_LIST))
    _, secret = issuing.issue(team="platform", name="sdk")
    keyed_gateway.routes(
        dict(
            model_prefix="anthropic:",
            strip_prefix=True,
            upstream=ant.url,
            protocol="anthropic",
            auth="env:HR_TEST_ANTHROPIC_KEY",
        ),
        dict(model_prefix="gpt-", upstream=oai.url, auth="env:HR_TEST_OPENAI_KEY"),
        dict(
            model_prefix="gemini-",
            upstream=gem.url,
            protocol="gemini",
            auth="env:HR_TEST_GEMINI_KEY",
        ),
    )
    yield secret


def only_request(mock: MockUpstream) -> Recorded:
    assert len(mock.requests) == 1
    return mock.requests[0]


def assert_asked_with_route_keys(mocks: list[MockUpstream], secret: str) -> None:
    ant, oai, gem = (only_request(mock) for mock in mocks)
    assert (ant.path, ant.header("x-api-key")) == ("/v1/models", E2E_KEYS["HR_TEST_ANTHROPIC_KEY"])
    assert (oai.path, oai.header("authorization")) == (
        "/v1/models",
        f"Bearer {E2E_KEYS['HR_TEST_OPENAI_KEY']}",
    )
    assert (gem.path, gem.header("x-goog-api-key")) == (
        "/v1beta/models",
        E2E_KEYS["HR_TEST_GEMINI_KEY"],
    )
    for request in (ant, oai, gem):
        assert secret not in repr(request)


def test_the_openai_sdk_lists_the_routes_models_with_a_gateway_key(
    keyed_gateway: Gateway, routed: str, mock_upstreams: list[MockUpstream]
) -> None:
    with openai.OpenAI(base_url=f"{keyed_gateway.url}/v1", api_key=routed, max_retries=0) as client:
        listed = list(client.models.list())
    assert [model.id for model in listed] == EXPECTED
    assert listed[1].owned_by == "openai"
    assert_asked_with_route_keys(mock_upstreams, routed)
    row = wait_for_row(endpoint="/v1/models", team="platform")
    assert (row.status, row.family, row.route_label) == (200, "openai", "gateway")


def test_the_anthropic_sdk_lists_the_routes_models_with_a_gateway_key(
    keyed_gateway: Gateway, routed: str, mock_upstreams: list[MockUpstream]
) -> None:
    with anthropic.Anthropic(base_url=keyed_gateway.url, api_key=routed, max_retries=0) as client:
        listed = list(client.models.list())
    assert [model.id for model in listed] == EXPECTED
    assert listed[0].display_name == "Claude Sonnet 4.5"
    assert_asked_with_route_keys(mock_upstreams, routed)
    row = wait_for_row(endpoint="/v1/models", team="platform")
    assert (row.status, row.family) == (200, "anthropic")


def test_the_google_genai_sdk_lists_the_routes_models_with_a_gateway_key(
    keyed_gateway: Gateway, routed: str, mock_upstreams: list[MockUpstream]
) -> None:
    options = types.HttpOptions(base_url=keyed_gateway.url, api_version="v1beta")
    client = genai.Client(api_key=routed, http_options=options)
    try:
        listed = list(client.models.list())
    finally:
        client.close()
    assert [model.name for model in listed] == [f"models/{name}" for name in EXPECTED]
    assert listed[2].input_token_limit == 1048576
    assert_asked_with_route_keys(mock_upstreams, routed)
    row = wait_for_row(endpoint="/v1beta/models", team="platform")
    assert (row.status, row.family) == (200, "gemini")


def test_x_headroom_key_next_to_an_own_key_lists_a_passthrough_route_with_that_key(
    keyed_gateway: Gateway, mock_upstreams: list[MockUpstream]
) -> None:
    oai = mock_upstreams[0]
    oai.reply_with(Reply.json(OPENAI_LIST))
    _, secret = issuing.issue(team="research")
    keyed_gateway.routes(dict(model_prefix="*", upstream=oai.url))
    with openai.OpenAI(
        base_url=f"{keyed_gateway.url}/v1",
        api_key="sk-own-openai",
        default_headers={"x-headroom-key": secret},
        max_retries=0,
    ) as client:
        assert [model.id for model in client.models.list()] == ["gpt-5", "o3"]
    request = only_request(oai)
    assert request.header("authorization") == "Bearer sk-own-openai"
    assert secret not in repr(request)
    assert wait_for_row(endpoint="/v1/models", team="research").status == 200
