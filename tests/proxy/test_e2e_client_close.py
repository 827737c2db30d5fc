"""A client that closes right after a stream's final event, as the official SDKs do, has a
completed request: its row is not a disconnect and its answer is cached."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anthropic
import openai
import pytest
from django.utils import timezone

from requestlog.models import RequestLog
from tests.conftest import Gateway
from tests.mock_upstream import MockUpstream, Reply
from tests.proxy.test_e2e_core import CHAT_STREAM, MESSAGE_STREAM

# After its final event the upstream holds the body open a while (a keep-alive comment follows),
# so the client's close reaches the gateway before the upstream's end does.
TRAILER = (3.0, b": keep-alive\n\n")
MESSAGES = [{"role": "user", "content": "hi"}]


def lingering(events: list[bytes]) -> Reply:
    reply = Reply.sse(events)
    assert reply.chunks is not None
    reply.chunks.append(TRAILER)
    return reply


@pytest.fixture
def clients(gateway: Gateway) -> Iterator[tuple[openai.OpenAI, anthropic.Anthropic]]:
    pair = (
        openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-client", max_retries=0),
        anthropic.Anthropic(base_url=gateway.url, api_key="sk-ant-client", max_retries=0),
    )
    yield pair
    for client in pair:
        client.close()


def row_for(model: str, since: object) -> RequestLog:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = list(RequestLog.objects.filter(model=model, created__gte=since).order_by("id"))
        if rows:
            return rows[0]
        time.sleep(0.1)
    raise AssertionError(f"no row for {model}")


def test_the_openai_sdk_closing_after_done_completes_the_request(
    gateway: Gateway,
    mock_upstream: MockUpstream,
    clients: tuple[openai.OpenAI, anthropic.Anthropic],
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url, "cache_ttl": 60})
    mock_upstream.reply_with(lingering(CHAT_STREAM))
    since = timezone.now()
    client = clients[0]

    stream = client.chat.completions.create(model="gpt-5", messages=MESSAGES, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    assert text == "Hello"
    assert mock_upstream.wait_for_disconnect(), "the SDK read to the end instead of closing"
    row = row_for("gpt-5", since)
    assert (row.status, row.disconnected, row.stream) == (200, False, True)
    again = client.chat.completions.with_raw_response.create(
        model="gpt-5", messages=MESSAGES, stream=True
    )
    assert again.headers["x-headroom-cache"] == "hit"
    assert "".join(c.choices[0].delta.content or "" for c in again.parse() if c.choices) == "Hello"
    assert len(mock_upstream.requests) == 1


def test_the_anthropic_sdk_closing_after_message_stop_completes_the_request(
    gateway: Gateway,
    mock_upstream: MockUpstream,
    clients: tuple[openai.OpenAI, anthropic.Anthropic],
) -> None:
    gateway.routes(
        {
            "model_prefix": "*",
            "upstream": mock_upstream.url,
            "protocol": "anthropic",
            "cache_ttl": 60,
        }
    )
    mock_upstream.reply_with(lingering(MESSAGE_STREAM))
    since = timezone.now()
    client = clients[1]

    kinds = []
    with client.messages.create(
        model="claude-sonnet-4", max_tokens=10, messages=MESSAGES, stream=True
    ) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "message_stop":
                break

    assert kinds[-1] == "message_stop"
    assert mock_upstream.wait_for_disconnect(), "the SDK read to the end instead of closing"
    row = row_for("claude-sonnet-4", since)
    assert (row.status, row.disconnected, row.output_tokens) == (200, False, 2)
    again = client.messages.with_raw_response.create(
        model="claude-sonnet-4", max_tokens=10, messages=MESSAGES, stream=True
    )
    assert again.headers["x-headroom-cache"] == "hit"
    assert [event.type for event in again.parse()][-1] == "message_stop"
    assert len(mock_upstream.requests) == 1


def test_a_client_that_leaves_before_the_final_event_is_still_a_disconnect(
    gateway: Gateway,
    mock_upstream: MockUpstream,
    clients: tuple[openai.OpenAI, anthropic.Anthropic],
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url, "cache_ttl": 60})
    mock_upstream.reply_with(lingering(CHAT_STREAM[:1]))
    since = timezone.now()

    stream = clients[0].chat.completions.create(model="gpt-5", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()

    assert mock_upstream.wait_for_disconnect()
    row = row_for("gpt-5", since)
    assert (row.status, row.disconnected) == (200, True)
