"""End to end: every agent surface through the real gateway with the official SDKs.

Each surface goes once through a model-prefix route that injects the key from the environment,
and once through the `x-headroom-base-url` override with the client's own key; the request log
row carries the usage the upstream reported (or none, for calls that are not billed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from django.utils import timezone
from google import genai
from google.genai import types

from requestlog.models import RequestLog
from routing import lending
from routing.models import AllowedUpstream
from tests.conftest import E2E_KEYS, ROUTE_PICKUP_SECONDS, Gateway
from tests.mock_upstream import MockUpstream, Recorded, Reply

STREAMS = Path(__file__).resolve().parents[1] / "data" / "streams"
CLIENT_KEYS = {"openai": "sk-client-e2e", "anthropic": "sk-ant-client-e2e", "gemini": "AIza-e2e"}
ENV_VARS = {
    "openai": "HR_TEST_OPENAI_KEY",
    "anthropic": "HR_TEST_ANTHROPIC_KEY",
    "gemini": "HR_TEST_GEMINI_KEY",
}
KEY_HEADERS = {"openai": "authorization", "anthropic": "x-api-key", "gemini": "x-goog-api-key"}
ROW_WAIT_SECONDS = 5.0
WRITER_SETTLE_SECONDS = 1.5  # longer than the gateway's HEADROOM_LOG_FLUSH_SECONDS (1 s)
GEMINI_MODEL = "gemini-2.5-flash"
GEMINI_PATH = f"/v1beta/models/{GEMINI_MODEL}"
BATCH = {
    "id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message_batch",
    "processing_status": "in_progress",
    "request_counts": {"processing": 1, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
    "ended_at": None,
    "created_at": "2024-09-24T18:37:24.100435Z",
    "expires_at": "2024-09-25T18:37:24.100435Z",
    "cancel_initiated_at": None,
    "results_url": None,
    "archived_at": None,
}
COMPLETION = {
    "id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
    "object": "text_completion",
    "created": 1589478378,
    "model": "gpt-3.5-turbo-instruct",
    "choices": [
        {
            "text": "\n\nThis is indeed a test",
            "index": 0,
            "logprobs": None,
            "finish_reason": "length",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
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
MODELS = {
    "object": "list",
    "data": [{"id": "gpt-4.1", "object": "model", "created": 1686935002, "owned_by": "openai"}],
}


def recorded(name: str) -> bytes:
    return (STREAMS / name).read_bytes()


def json_reply(name: str) -> Reply:
    return Reply(200, [("content-type", "application/json")], recorded(name))


def sse_reply(name: str, separator: bytes = b"\n\n") -> Reply:
    events = [event + separator for event in recorded(name).split(separator) if event]
    return Reply.sse(events)


_clients: list[openai.OpenAI | anthropic.Anthropic | genai.Client] = []


@pytest.fixture(scope="module", autouse=True)
def _earlier_rows_written() -> None:
    # The gateway writes log rows in batches, and one row whose route an earlier test deleted
    # fails its whole batch; let rows queued before this module go out on their own. Each test
    # here waits for its own row, so no row of one test shares a batch with the next test's.
    time.sleep(WRITER_SETTLE_SECONDS)


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def openai_client(gateway: Gateway, headers: dict[str, str]) -> openai.OpenAI:
    client = openai.OpenAI(
        base_url=f"{gateway.url}/v1",
        api_key=CLIENT_KEYS["openai"],
        default_headers=headers,
        max_retries=0,
    )
    _clients.append(client)
    return client


def anthropic_client(gateway: Gateway, headers: dict[str, str]) -> anthropic.Anthropic:
    client = anthropic.Anthropic(
        base_url=gateway.url,
        api_key=CLIENT_KEYS["anthropic"],
        default_headers=headers,
        max_retries=0,
    )
    _clients.append(client)
    return client


def gemini_client(gateway: Gateway, headers: dict[str, str]) -> genai.Client:
    # The SDK's own default is the v1 API; the gateway's Gemini surface is v1beta (SPEC §1).
    options = types.HttpOptions(base_url=gateway.url, api_version="v1beta", headers=headers)
    client = genai.Client(api_key=CLIENT_KEYS["gemini"], http_options=options)
    _clients.append(client)
    return client


# What each call returns, reduced to something a test can compare.


def responses_create(gateway: Gateway, headers: dict[str, str]) -> object:
    response = openai_client(gateway, headers).responses.create(model="gpt-4.1", input="Hi")
    return response.output_text


def responses_stream(gateway: Gateway, headers: dict[str, str]) -> object:
    events = openai_client(gateway, headers).responses.create(
        model="gpt-4.1", input="Hi", stream=True
    )
    kinds = [event.type for event in events]
    return (kinds[0], kinds[-1], len(kinds))


def embeddings_create(gateway: Gateway, headers: dict[str, str]) -> object:
    result = openai_client(gateway, headers).embeddings.create(
        model="text-embedding-3-small", input=["a", "b"], encoding_format="float"
    )
    return [item.embedding for item in result.data]


def models_list(gateway: Gateway, headers: dict[str, str]) -> object:
    return [model.id for model in openai_client(gateway, headers).models.list()]


def count_tokens(gateway: Gateway, headers: dict[str, str]) -> object:
    result = anthropic_client(gateway, headers).messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "Hi"}]
    )
    return result.input_tokens


def batches_create(gateway: Gateway, headers: dict[str, str]) -> object:
    params = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    batch = anthropic_client(gateway, headers).messages.batches.create(
        requests=[{"custom_id": "first", "params": params}]
    )
    return (batch.id, batch.processing_status)


def batches_retrieve(gateway: Gateway, headers: dict[str, str]) -> object:
    batch = anthropic_client(gateway, headers).messages.batches.retrieve(BATCH["id"])
    return (batch.id, batch.request_counts.processing)


def completions_create(gateway: Gateway, headers: dict[str, str]) -> object:
    result = openai_client(gateway, headers).completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Say this is a test"
    )
    return result.choices[0].text


def completions_stream(gateway: Gateway, headers: dict[str, str]) -> object:
    chunks = list(
        openai_client(gateway, headers).completions.create(
            model="gpt-3.5-turbo-instruct", prompt="Say this is a test", stream=True
        )
    )
    # The usage-only chunk the gateway asked for never reaches the client.
    return ("".join(chunk.choices[0].text for chunk in chunks), all(c.choices for c in chunks))


def anthropic_models_list(gateway: Gateway, headers: dict[str, str]) -> object:
    return [model.id for model in anthropic_client(gateway, headers).models.list()]


def generate_content(gateway: Gateway, headers: dict[str, str]) -> object:
    response = gemini_client(gateway, headers).models.generate_content(
        model=GEMINI_MODEL, contents="Hi"
    )
    return response.text


def generate_content_stream(gateway: Gateway, headers: dict[str, str]) -> object:
    chunks = gemini_client(gateway, headers).models.generate_content_stream(
        model=GEMINI_MODEL, contents="Hi"
    )
    return "".join(chunk.text or "" for chunk in chunks)


def generate_content_json_stream(gateway: Gateway, headers: dict[str, str]) -> object:
    """The JSON-array stream (no `?alt=sse`), which the SDK never asks for: raw httpx."""
    response = httpx.post(
        f"{gateway.url}{GEMINI_PATH}:streamGenerateContent",
        json={"contents": [{"parts": [{"text": "Hi"}]}]},
        headers={"x-goog-api-key": CLIENT_KEYS["gemini"], **headers},
    )
    assert response.content == recorded("gemini_stream.json")
    return [
        part["text"]
        for item in response.json()
        for part in item["candidates"][0]["content"]["parts"]
    ][:1]


def gemini_count_tokens(gateway: Gateway, headers: dict[str, str]) -> object:
    result = gemini_client(gateway, headers).models.count_tokens(model=GEMINI_MODEL, contents="Hi")
    return result.total_tokens


@dataclass(frozen=True)
class Case:
    call: Callable[[Gateway, dict[str, str]], object]
    family: str
    prefix: str  # the route's model prefix; `*` for calls without a top-level model
    reply: Reply
    method: str
    path: str  # as the upstream receives it, and as the log records it
    result: object
    usage: tuple[int, int, int, int] | None

    @property
    def id(self) -> str:
        return self.call.__name__


CASES = [
    Case(
        responses_create,
        "openai",
        "gpt-",
        json_reply("openai_responses.json"),
        "POST",
        "/v1/responses",
        "Hi there — ünïcode ✓",
        (512, 120, 1536, 0),
    ),
    Case(
        responses_stream,
        "openai",
        "gpt-",
        sse_reply("openai_responses.sse"),
        "POST",
        "/v1/responses",
        ("response.created", "response.completed", 10),
        (512, 120, 1536, 0),
    ),
    Case(
        embeddings_create,
        "openai",
        "text-embedding-",
        json_reply("openai_embeddings.json"),
        "POST",
        "/v1/embeddings",
        [[0.0023064255, -0.009327292, -0.0028842222], [0.011, -0.5, 0.25]],
        (8, 0, 0, 0),
    ),
    Case(
        models_list,
        "openai",
        "*",
        Reply.json(MODELS),
        "GET",
        "/v1/models",
        ["gpt-4.1"],
        None,
    ),
    Case(
        completions_create,
        "openai",
        "gpt-",
        Reply.json(COMPLETION),
        "POST",
        "/v1/completions",
        "\n\nThis is indeed a test",
        (5, 7, 0, 0),
    ),
    Case(
        completions_stream,
        "openai",
        "gpt-",
        sse_reply("openai_completions_include_usage.sse"),
        "POST",
        "/v1/completions",
        ("Thïs is a test.", True),
        (5, 7, 0, 0),
    ),
    Case(
        anthropic_models_list,
        "anthropic",
        "*",
        Reply.json(ANTHROPIC_MODELS),
        "GET",
        "/v1/models",
        ["claude-sonnet-4-5"],
        None,
    ),
    Case(
        count_tokens,
        "anthropic",
        "claude-",
        Reply.json({"input_tokens": 14}),
        "POST",
        "/v1/messages/count_tokens",
        14,
        None,
    ),
    Case(
        batches_create,
        "anthropic",
        "*",
        Reply.json(BATCH),
        "POST",
        "/v1/messages/batches",
        (BATCH["id"], "in_progress"),
        None,
    ),
    Case(
        batches_retrieve,
        "anthropic",
        "*",
        Reply.json(BATCH),
        "GET",
        f"/v1/messages/batches/{BATCH['id']}",
        (BATCH["id"], 1),
        None,
    ),
    Case(
        generate_content,
        "gemini",
        "gemini-",
        json_reply("gemini_generate.json"),
        "POST",
        f"{GEMINI_PATH}:generateContent",
        "A short answer.",
        (11, 29, 0, 0),
    ),
    Case(
        generate_content_stream,
        "gemini",
        "gemini-",
        sse_reply("gemini_alt_sse.sse", b"\r\n\r\n"),
        "POST",
        f"{GEMINI_PATH}:streamGenerateContent",
        "Héllo — 日本 ☃",
        (104, 330, 4096, 0),
    ),
    Case(
        generate_content_json_stream,
        "gemini",
        "gemini-",
        json_reply("gemini_stream.json"),
        "POST",
        f"{GEMINI_PATH}:streamGenerateContent",
        ["Hé"],
        (104, 330, 4096, 0),
    ),
    Case(
        gemini_count_tokens,
        "gemini",
        "gemini-",
        Reply.json(
            {"totalTokens": 3, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}]}
        ),
        "POST",
        f"{GEMINI_PATH}:countTokens",
        3,
        None,
    ),
]


def logged_usage(endpoint: str, label: str, since: datetime) -> tuple[int, int, int, int] | None:
    """The usage on this call's log row, once the gateway's writer has saved it."""
    deadline = time.monotonic() + ROW_WAIT_SECONDS
    while time.monotonic() < deadline:
        row = (
            RequestLog.objects.filter(endpoint=endpoint, route_label=label, created__gte=since)
            .order_by("-created")
            .first()
        )
        if row is not None:
            usage = (row.input_tokens, row.output_tokens, row.cache_read_tokens)
            return (*usage, row.cache_write_tokens) if row.usage_reported else None
        time.sleep(0.05)
    raise AssertionError(f"no log row for {endpoint} within {ROW_WAIT_SECONDS}s")


def sent_keys(request: Recorded) -> dict[str, str]:
    """The credentials the upstream received, by header."""
    names = ("authorization", "x-api-key", "x-goog-api-key")
    return {
        name: value.removeprefix("Bearer ")
        for name in names
        if (value := request.header(name)) is not None
    }


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_surface_through_a_model_prefix_route_with_an_injected_key(
    gateway: Gateway, mock_upstream: MockUpstream, case: Case
) -> None:
    route = {"upstream": mock_upstream.url, "protocol": case.family}
    if not lending.lending("", "").allows(case.method, case.path):
        # Beyond the model surfaces (batches) an env: route lends its key only where it says.
        route.update(allowed_paths=case.path, allowed_methods=case.method)
    gateway.routes({**route, "model_prefix": case.prefix, "auth": f"env:{ENV_VARS[case.family]}"})
    mock_upstream.reply_with(case.reply)
    since = timezone.now()

    result = case.call(gateway, {})

    [request] = mock_upstream.requests
    assert result == case.result
    assert (request.method, request.path) == (case.method, case.path)
    assert sent_keys(request) == {KEY_HEADERS[case.family]: E2E_KEYS[ENV_VARS[case.family]]}
    assert logged_usage(case.path, case.prefix, since) == case.usage


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_surface_through_the_override_header_with_the_clients_key(
    gateway: Gateway, mock_upstream: MockUpstream, default_upstream: MockUpstream, case: Case
) -> None:
    AllowedUpstream.objects.create(url=mock_upstream.url)
    time.sleep(ROUTE_PICKUP_SECONDS)
    mock_upstream.reply_with(case.reply)
    since = timezone.now()

    result = case.call(gateway, {"x-headroom-base-url": mock_upstream.url})

    [request] = mock_upstream.requests
    assert result == case.result
    assert (request.method, request.path) == (case.method, case.path)
    # Each SDK presents its key its own way; the gateway passes it on as it came.
    assert list(sent_keys(request).values()) == [CLIENT_KEYS[case.family]]
    assert request.header("x-headroom-base-url") is None
    assert default_upstream.requests == []
    assert logged_usage(case.path, "override", since) == case.usage


def test_a_streamed_gemini_request_asks_for_sse_and_the_stream_arrives_whole(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "gemini-", "upstream": mock_upstream.url, "protocol": "gemini"})
    mock_upstream.reply_with(sse_reply("gemini_alt_sse.sse", b"\r\n\r\n"))
    since = timezone.now()
    chunks = list(
        gemini_client(gateway, {}).models.generate_content_stream(model=GEMINI_MODEL, contents="Hi")
    )
    [request] = mock_upstream.requests
    assert request.query == "alt=sse"
    assert json.loads(request.body)["contents"][0]["parts"][0]["text"] == "Hi"
    assert chunks[-1].usage_metadata.cached_content_token_count == 4096
    stream = next(case for case in CASES if case.call is generate_content_stream)
    assert logged_usage(stream.path, "gemini-", since) == stream.usage


def test_a_chat_stream_is_asked_for_usage_that_the_client_never_sees(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "gpt-", "upstream": mock_upstream.url})
    mock_upstream.reply_with(sse_reply("openai_chat_include_usage.sse"))
    since = timezone.now()
    chunks = list(
        openai_client(gateway, {}).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
    )
    [request] = mock_upstream.requests
    assert json.loads(request.body)["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == (
        "Héllo — 日本語 ☃ again 🙂"
    )
    assert logged_usage("/v1/chat/completions", "gpt-", since) == (176, 17, 1024, 0)
