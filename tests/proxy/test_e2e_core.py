"""End to end: the real gateway under Daphne, real mock upstreams, the official SDKs and httpx."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from routing.models import AllowedUpstream
from tests.conftest import E2E_KEYS, Gateway, free_port
from tests.mock_upstream import MockUpstream, Reply

CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "glm-4.6",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hi from glm"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4",
    "content": [{"type": "text", "text": "hi from claude"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 2},
}
CHAT_STREAM = [
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-5",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n',
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-5",'
    b'"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
]
MESSAGE_STREAM = [
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
    b'"role":"assistant","model":"claude-sonnet-4","content":[],"stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n',
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hello"}}\n\n',
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
    b'"stop_sequence":null},"usage":{"output_tokens":2}}\n\n',
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]


def three_routes(gateway: Gateway, mocks: list[MockUpstream], **auths: str) -> None:
    gateway.routes(
        {"model_prefix": "glm-", "upstream": mocks[0].url, "auth": auths.get("glm", "passthrough")},
        {
            "model_prefix": "claude-",
            "upstream": mocks[1].url,
            "protocol": "anthropic",
            "auth": auths.get("claude", "passthrough"),
        },
        {"model_prefix": "*", "upstream": mocks[2].url, "auth": auths.get("star", "passthrough")},
    )


_clients: list[openai.OpenAI | anthropic.Anthropic] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def openai_client(gateway: Gateway, **headers: str) -> openai.OpenAI:
    client = openai.OpenAI(
        base_url=f"{gateway.url}/v1", api_key="sk-client", default_headers=headers, max_retries=0
    )
    _clients.append(client)
    return client


def anthropic_client(gateway: Gateway, **headers: str) -> anthropic.Anthropic:
    client = anthropic.Anthropic(
        base_url=gateway.url, api_key="sk-ant-client", default_headers=headers, max_retries=0
    )
    _clients.append(client)
    return client


def test_three_routes_send_three_models_to_three_upstreams_through_the_sdks(
    gateway: Gateway, mock_upstreams: list[MockUpstream]
) -> None:
    glm, claude, star = mock_upstreams
    three_routes(gateway, mock_upstreams)
    glm.reply_with(Reply.json(CHAT))
    claude.reply_with(Reply.json(MESSAGE))
    star.reply_with(Reply.json({**CHAT, "model": "gpt-5"}))

    chat = openai_client(gateway).chat.completions.create(
        model="glm-4.6", messages=[{"role": "user", "content": "hi"}]
    )
    message = anthropic_client(gateway).messages.create(
        model="claude-sonnet-4", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    other = openai_client(gateway).chat.completions.create(
        model="gpt-5", messages=[{"role": "user", "content": "hi"}]
    )

    assert chat.choices[0].message.content == "hi from glm"
    assert message.content[0].text == "hi from claude"
    assert other.model == "gpt-5"
    assert [r.path for r in glm.requests] == ["/v1/chat/completions"]
    assert [r.path for r in claude.requests] == ["/v1/messages"]
    assert [r.path for r in star.requests] == ["/v1/chat/completions"]


def test_streams_through_the_sdks_arrive_unchanged(
    gateway: Gateway, mock_upstreams: list[MockUpstream]
) -> None:
    three_routes(gateway, mock_upstreams)
    mock_upstreams[2].reply_with(Reply.sse(CHAT_STREAM))
    mock_upstreams[1].reply_with(Reply.sse(MESSAGE_STREAM))

    chunks = openai_client(gateway).chat.completions.create(
        model="gpt-5",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": False},
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    with anthropic_client(gateway).messages.stream(
        model="claude-sonnet-4", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        claude_text = "".join(stream.text_stream)

    assert (text, claude_text) == ("Hello", "Hello")


def test_raw_response_bytes_status_and_headers_are_relayed_unchanged(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url})
    body = b'{"weird":   "spacing",\n "x": [1,2]}'
    mock_upstream.reply_with(
        Reply(418, [("content-type", "application/json"), ("x-request-id", "req_9")], body)
    )
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=b'{"model":"gpt-5","messages":[]}',
        headers={"authorization": "Bearer sk-client"},
    )
    assert (response.status_code, response.content) == (418, body)
    assert response.headers["x-request-id"] == "req_9"
    assert response.headers["x-headroom-route"] == "*"
    assert len(response.headers["x-headroom-request-id"]) == 32


def test_request_bodies_are_forwarded_byte_for_byte(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url})
    body = (
        b'{ "model" : "claude-x", "unknown_field": {"a": 1.50},\n'
        b' "messages": [{"role": "user", "content": [{"type": "text", "text": "caf\\u00e9",'
        b' "cache_control": {"type": "ephemeral"}}]}], "thinking": {"type": "enabled"} }'
    )
    httpx.post(
        f"{gateway.url}/v1/messages",
        content=body,
        headers={
            "x-api-key": "k",
            "anthropic-beta": "tools-2024",
            "anthropic-version": "2023-06-01",
        },
    )
    sent = mock_upstream.requests[0]
    assert sent.body == body
    assert sent.header("anthropic-beta") == "tools-2024"
    assert sent.header("anthropic-version") == "2023-06-01"


def test_strip_prefix_rewrites_only_the_model_value(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes(
        {"model_prefix": "anthropic:", "upstream": mock_upstream.url, "strip_prefix": True}
    )
    body = b'{"messages": [{"content": "model"}],  "model":"anthropic:claude-x", "n": 1}'
    response = httpx.post(f"{gateway.url}/v1/messages", content=body, headers={"x-api-key": "k"})
    assert response.status_code == 200
    assert mock_upstream.requests[0].body == (
        b'{"messages": [{"content": "model"}],  "model":"claude-x", "n": 1}'
    )


@pytest.mark.parametrize(
    ("sent", "forwarded"),
    [
        ("g:gemini-2.5-flash:generateContent", "gemini-2.5-flash:generateContent"),
        ("g:models%2Fgemini-x:streamGenerateContent", "models%2Fgemini-x:streamGenerateContent"),
        ("g:tunedModels/t-1:countTokens", "tunedModels/t-1:countTokens"),
    ],
)
def test_strip_prefix_on_a_gemini_path_keeps_the_method_and_the_encoding(
    gateway: Gateway, mock_upstream: MockUpstream, sent: str, forwarded: str
) -> None:
    gateway.routes(
        {
            "model_prefix": "g:",
            "upstream": mock_upstream.url,
            "protocol": "gemini",
            "strip_prefix": True,
        }
    )
    response = httpx.post(
        f"{gateway.url}/v1beta/models/{sent}?alt=sse",
        content=b"{}",
        headers={"x-goog-api-key": "AIza-client"},
    )
    assert response.status_code == 200
    [request] = mock_upstream.requests
    assert (request.path, request.query) == (f"/v1beta/models/{forwarded}", "alt=sse")


@pytest.mark.parametrize(
    ("family", "path", "model"),
    [
        ("anthropic", "/v1/messages", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        (
            "anthropic",
            "/v1/messages",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v1:0",
        ),
        ("openai", "/v1/chat/completions", "accounts/fireworks/models/llama-v3p1-8b-instruct"),
        ("gemini", "/v1beta/models/{model}:generateContent", "models/gemini-2.5-flash"),
        ("gemini", "/v1beta/models/{model}:generateContent", "tunedModels/x:y"),
    ],
)
def test_model_names_with_colons_and_slashes_route_and_arrive_unchanged(
    gateway: Gateway, mock_upstreams: list[MockUpstream], family: str, path: str, model: str
) -> None:
    decoy, target = mock_upstreams[0], mock_upstreams[1]
    prefix = model.split("/")[0].split(":")[0][:6]
    gateway.routes(
        {"model_prefix": "zzz-", "upstream": decoy.url, "protocol": family},
        {"model_prefix": prefix, "upstream": target.url, "protocol": family},
    )
    body = json.dumps({"model": model, "messages": []}).encode()
    url = gateway.url + path.format(model=model)
    headers = {"x-api-key": "k", "authorization": "Bearer k", "x-goog-api-key": "k"}
    response = httpx.post(url, content=body, headers=headers)
    assert (response.status_code, response.headers["x-headroom-route"]) == (200, prefix)
    [request] = target.requests
    assert request.path == path.format(model=model)
    assert request.body == body
    assert decoy.requests == []


def test_messages_with_an_override_go_to_the_override_not_the_default(
    gateway: Gateway, mock_upstream: MockUpstream, default_upstream: MockUpstream
) -> None:
    # The route table is empty, so without the override this would go to the default target.
    AllowedUpstream.objects.create(url=mock_upstream.url)
    time.sleep(0.35)
    mock_upstream.reply_with(Reply.json(MESSAGE))
    client = anthropic_client(gateway, **{"x-headroom-base-url": mock_upstream.url})
    message = client.messages.create(
        model="claude-sonnet-4", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.id == "msg_1"
    assert [r.path for r in mock_upstream.requests] == ["/v1/messages"]
    assert default_upstream.requests == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/chat/completions", {"model": "gpt-5", "messages": []}),
        ("POST", "/v1/messages", {"model": "claude-x", "max_tokens": 1, "messages": []}),
        ("GET", "/v1/models", None),
    ],
)
def test_the_upstream_alias_is_normalized_and_honoured_on_every_surface(
    gateway: Gateway,
    mock_upstream: MockUpstream,
    default_upstream: MockUpstream,
    method: str,
    path: str,
    body: dict | None,
) -> None:
    AllowedUpstream.objects.create(url=mock_upstream.url)
    time.sleep(0.35)
    response = httpx.request(
        method,
        f"{gateway.url}{path}?limit=5",
        json=body,
        headers={
            "authorization": "Bearer sk-client",
            "x-headroom-upstream": f"{mock_upstream.url}/v1/",
        },
    )
    assert response.status_code == 200
    assert response.headers["x-headroom-route"] == "override"
    sent = mock_upstream.requests[0]
    assert (sent.method, sent.path, sent.query) == (method, path, "limit=5")
    assert sent.header("authorization") == "Bearer sk-client"
    assert default_upstream.requests == []


def test_a_disallowed_override_gets_403_and_nothing_is_sent(
    gateway: Gateway, mock_upstreams: list[MockUpstream]
) -> None:
    three_routes(gateway, mock_upstreams)
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        anthropic_client(
            gateway, **{"x-headroom-base-url": "https://evil.example"}
        ).messages.create(
            model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.body["error"]["type"] == "permission_error"
    assert all(mock.requests == [] for mock in mock_upstreams)


def test_an_override_never_receives_an_env_key(
    gateway: Gateway, mock_upstreams: list[MockUpstream]
) -> None:
    glm, claude, star = mock_upstreams
    three_routes(gateway, mock_upstreams, glm="env:HR_TEST_OPENAI_KEY")
    # The override names the claude route's upstream: allowed, but with the client's own key.
    openai_client(gateway, **{"x-headroom-base-url": claude.url}).chat.completions.create(
        model="glm-4.6", messages=[{"role": "user", "content": "hi"}]
    )
    sent = claude.requests[0]
    assert sent.header("authorization") == "Bearer sk-client"
    assert E2E_KEYS["HR_TEST_OPENAI_KEY"] not in json.dumps(sent.headers)
    assert glm.requests == []


@pytest.mark.parametrize(
    ("protocol", "variable", "header", "expected"),
    [
        (
            "openai",
            "HR_TEST_OPENAI_KEY",
            "authorization",
            f"Bearer {E2E_KEYS['HR_TEST_OPENAI_KEY']}",
        ),
        ("anthropic", "HR_TEST_ANTHROPIC_KEY", "x-api-key", E2E_KEYS["HR_TEST_ANTHROPIC_KEY"]),
        ("gemini", "HR_TEST_GEMINI_KEY", "x-goog-api-key", E2E_KEYS["HR_TEST_GEMINI_KEY"]),
    ],
)
def test_an_env_route_injects_its_key_with_the_protocol_header_and_strips_the_client_keys(
    gateway: Gateway,
    mock_upstream: MockUpstream,
    protocol: str,
    variable: str,
    header: str,
    expected: str,
) -> None:
    gateway.routes(
        {
            "model_prefix": "*",
            "upstream": mock_upstream.url,
            "protocol": protocol,
            "auth": f"env:{variable}",
        }
    )
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "m", "messages": []},
        headers={"authorization": "Bearer sk-client", "x-api-key": "sk-client-2", "api-key": "az"},
    )
    assert response.status_code == 200
    sent = mock_upstream.requests[0]
    assert sent.header(header) == expected
    client_values = {"Bearer sk-client", "sk-client-2", "az"}
    assert not client_values & {value for _, value in sent.headers}


def test_an_unset_env_key_fails_closed_with_502_before_any_upstream_contact(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes(
        {"model_prefix": "*", "upstream": mock_upstream.url, "auth": "env:HR_TEST_UNSET"}
    )
    with pytest.raises(openai.InternalServerError) as failed:
        openai_client(gateway).chat.completions.create(model="m", messages=[])
    assert failed.value.status_code == 502
    assert "HR_TEST_UNSET" not in failed.value.response.text
    assert mock_upstream.requests == []
    assert "HR_TEST_UNSET" in gateway.log()


def test_a_passthrough_request_without_any_credential_gets_401_and_nothing_is_sent(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url})
    response = httpx.post(
        f"{gateway.url}/v1/messages",
        json={"model": "claude-x", "max_tokens": 1, "messages": []},
    )
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert mock_upstream.requests == []


def test_no_x_headroom_header_ever_reaches_an_upstream(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url})
    AllowedUpstream.objects.create(url=mock_upstream.url)
    time.sleep(0.35)
    headers = {
        "authorization": "Bearer sk-client",
        "x-headroom-bypass": "true",
        "x-headroom-base-url": mock_upstream.url,
        "x-headroom-upstream": mock_upstream.url + "/v1",
        "x-headroom-anything": "1",
        "connection": "keep-alive, x-custom",
        "cookie": "sessionid=abc",
    }
    httpx.post(f"{gateway.url}/v1/chat/completions", json={"model": "m"}, headers=headers)
    httpx.get(f"{gateway.url}/v1/models", headers=headers)
    for sent in mock_upstream.requests:
        names = {name for name, _ in sent.headers}
        assert not {n for n in names if n.startswith("x-headroom-")}
        assert "cookie" not in names
    assert len(mock_upstream.requests) == 2


def test_the_first_event_of_a_stream_arrives_before_the_upstream_finishes(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url})
    mock_upstream.reply_with(Reply.sse(CHAT_STREAM, delays=[0.0, 1.0, 0.0]))
    started = time.monotonic()
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-5", "stream": True, "messages": []},
        headers={"authorization": "Bearer sk-client"},
    ) as response:
        chunks = response.iter_raw()
        first = next(chunks)
        first_at = time.monotonic() - started
        rest = b"".join(chunks)
        done_at = time.monotonic() - started
    assert first.startswith(b"data: ")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    # The first event came before the upstream's one-second pause ended; the rest after it.
    assert first_at < 0.8 < done_at
    assert first + rest == b"".join(CHAT_STREAM)


def test_a_client_that_leaves_mid_stream_closes_the_upstream_connection(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url})
    events = [b"data: {}\n\n"] * 30
    mock_upstream.reply_with(Reply.sse(events, delays=[0.0] + [0.2] * 29))
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-5", "stream": True},
        headers={"authorization": "Bearer sk-client"},
    ) as response:
        next(response.iter_raw())
    left_at = time.monotonic()
    assert mock_upstream.wait_for_disconnect(timeout=3.0)
    assert mock_upstream.disconnects[0] - left_at < 1.0


def test_an_unreachable_upstream_is_a_502_in_the_callers_format(gateway: Gateway) -> None:
    gateway.routes({"model_prefix": "*", "upstream": f"http://127.0.0.1:{free_port()}"})
    response = httpx.post(
        f"{gateway.url}/v1/messages",
        json={"model": "claude-x", "max_tokens": 1, "messages": []},
        headers={"x-api-key": "k"},
    )
    assert response.status_code == 502
    assert response.json() == {
        "type": "error",
        "error": {"type": "api_error", "message": "upstream refused the connection"},
    }


def test_an_upstream_that_does_not_answer_in_time_is_a_504(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url, "read_timeout": 0.3})
    mock_upstream.reply_with(Reply(hang=True))
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-5"},
        headers={"authorization": "Bearer k"},
    )
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"


def test_an_upstream_html_error_and_a_redirect_are_relayed_as_they_came(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url, "retries": 0})
    replies = iter(
        [
            Reply(503, [("content-type", "text/html")], b"<html>busy</html>"),
            Reply(302, [("location", "http://169.254.169.254/latest")]),
        ]
    )
    mock_upstream.reply_with(lambda _request: next(replies))
    headers = {"authorization": "Bearer k"}
    html = httpx.post(f"{gateway.url}/v1/chat/completions", json={"model": "m"}, headers=headers)
    redirect = httpx.get(f"{gateway.url}/v1/files", headers=headers)
    assert (html.status_code, html.text) == (503, "<html>busy</html>")
    assert (redirect.status_code, redirect.headers["location"]) == (
        302,
        "http://169.254.169.254/latest",
    )
    assert len(mock_upstream.requests) == 2


def test_a_route_edit_applies_within_two_seconds(
    gateway: Gateway, mock_upstreams: list[MockUpstream]
) -> None:
    first, second, _ = mock_upstreams
    (route,) = gateway.routes({"model_prefix": "*", "upstream": first.url})
    route.upstream = second.url
    route.save()
    edited = time.monotonic()
    while not second.requests and time.monotonic() - edited < 5:
        httpx.get(f"{gateway.url}/v1/models", headers={"authorization": "Bearer k"})
        time.sleep(0.05)
    assert second.requests
    assert time.monotonic() - edited < 2.0


def test_a_body_over_the_limit_is_refused_with_413_in_the_callers_format(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url})
    too_big = b'{"model": "claude-x", "pad": "' + b"x" * (32 * 1024 * 1024) + b'"}'
    response = httpx.post(
        f"{gateway.url}/v1/messages", content=too_big, headers={"x-api-key": "k"}, timeout=30
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert mock_upstream.requests == []


@pytest.mark.parametrize("size", [13 * 1024, 20 * 1024, 40 * 1024])
def test_headers_past_the_limit_get_a_431_in_the_callers_format(
    gateway: Gateway, mock_upstream: MockUpstream, size: int
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url})
    response = httpx.post(
        f"{gateway.url}/v1/messages",
        content=b'{"model": "claude-x"}',
        headers={"x-api-key": "k", "x-padding": "p" * size},
    )
    assert response.status_code == 431
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert mock_upstream.requests == []


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v2/anything", "/nothing"])
def test_a_host_outside_allowed_hosts_gets_a_json_400_and_nothing_is_sent(
    gateway: Gateway, mock_upstream: MockUpstream, path: str
) -> None:
    # A page that rebinds its own DNS name to the gateway must not reach the injected key.
    gateway.routes(
        {"model_prefix": "*", "upstream": mock_upstream.url, "auth": "env:HR_TEST_OPENAI_KEY"}
    )
    response = httpx.post(
        gateway.url + path,
        content=b'{"model": "gpt-5", "messages": []}',
        headers={"host": "rebound.attacker.example", "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert "error" in response.json()
    assert mock_upstream.requests == []


def test_a_chunked_body_is_read_no_further_than_the_limit(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url})

    def chunks() -> Iterator[bytes]:
        yield b'{"model": "gpt-5", "pad": "'
        for _ in range(33):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=chunks(),
        headers={"authorization": "Bearer k"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert mock_upstream.requests == []
