"""End to end: the savings engine and the response cache in the real gateway under Daphne, with a
real mock upstream, the anthropic SDK and httpx, checked against the request log and the dashboard.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from django.contrib.auth.models import User

from requestlog.models import RequestLog
from tests.conftest import Gateway, start_gateway, stop_gateway
from tests.corpus import SESSION_OUTPUTS, read
from tests.mock_upstream import MockUpstream, Reply

PODS = read("json/k8s_pods.json")
ANTHROPIC_AUTH = {"x-api-key": "sk-ant-client", "anthropic-version": "2023-06-01"}
STAFF = ("savings-ops", "savings-pw")
# The e2e gateway writes its log rows every second; a row is read within this many seconds.
ROW_WAIT_SECONDS = 10.0


@pytest.fixture
def model() -> str:
    """A model name no other test uses: rows a previous test's server wrote late stay apart."""
    return f"claude-savings-{uuid.uuid4().hex[:10]}"


def message(input_tokens: int) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4",
        "content": [{"type": "text", "text": "Two pods are crash-looping."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 12},
    }


def message_stream(input_tokens: int) -> list[bytes]:
    start = {
        "type": "message_start",
        "message": {
            **message(input_tokens),
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        },
    }
    events = [
        ("message_start", start),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 2},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]


def tool_turn(number: int, output: str) -> list[dict[str, Any]]:
    call = f"toolu_{number:02d}"
    return [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": call, "name": "bash", "input": {"step": number}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call, "content": output}],
        },
    ]


def pods_conversation() -> list[dict[str, Any]]:
    return [{"role": "user", "content": "Which pods are failing?"}, *tool_turn(0, PODS)]


_clients: list[anthropic.Anthropic] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def sdk(gateway: Gateway) -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="sk-ant-client", max_retries=0)
    _clients.append(client)
    return client


def claude_route(gateway: Gateway, mock: MockUpstream, **fields: object) -> None:
    gateway.routes(
        {"model_prefix": "claude-", "upstream": mock.url, "protocol": "anthropic", **fields}
    )


def logged(model: str, count: int) -> list[RequestLog]:
    """The model's rows, in order, once the gateway's writer has saved all `count` of them."""
    deadline = time.monotonic() + ROW_WAIT_SECONDS
    rows = list(RequestLog.objects.filter(model=model).order_by("id"))
    while len(rows) < count and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = list(RequestLog.objects.filter(model=model).order_by("id"))
    assert len(rows) == count, f"{len(rows)} of {count} rows were written"
    return rows


def dashboard(gateway: Gateway, model: str) -> str:
    User.objects.create_user(STAFF[0], password=STAFF[1], is_staff=True)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        form = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token, form.text
        data = {"username": STAFF[0], "password": STAFF[1], "next": "/dashboard/"}
        login = client.post("/admin/login/", data={**data, "csrfmiddlewaretoken": token[1]})
        assert login.status_code == 302, login.text
        page = client.get("/dashboard/", params={"model": model})
        assert page.status_code == 200
        return page.text


def tile(page: str, name: str) -> tuple[str, str]:
    """The value and detail line of one dashboard tile."""
    found = re.search(
        rf'data-tile="{name}">.*?class="value">([^<]*)<.*?class="detail muted">([^<]*)<',
        page,
        re.DOTALL,
    )
    assert found, f"no {name} tile"
    return found[1].strip(), found[2].strip()


def test_a_large_tool_result_arrives_smaller_and_the_headers_row_and_dashboard_agree(
    gateway: Gateway, mock_upstream: MockUpstream, model: str
) -> None:
    claude_route(gateway, mock_upstream)
    mock_upstream.reply_with(Reply.json(message(input_tokens=4000)))
    raw = sdk(gateway).messages.with_raw_response.create(
        model=model, max_tokens=100, messages=pods_conversation()
    )
    sent = mock_upstream.requests[0].json()["messages"][2]["content"][0]["content"]

    assert raw.parse().content[0].text == "Two pods are crash-looping."
    assert len(sent) < len(PODS) * 0.8
    assert json.loads(sent) == json.loads(PODS)
    figures = [int(raw.headers[f"x-headroom-tokens-{name}"]) for name in ("before", "after")]
    assert figures[1] == 4000
    assert int(raw.headers["x-headroom-tokens-saved"]) == figures[0] - figures[1] > 0

    [row] = logged(model, 1)
    assert [row.tokens_before, row.tokens_after] == figures
    assert (row.savings_note, row.input_tokens, row.request_id) == (
        "compressed",
        4000,
        raw.headers["x-headroom-request-id"],
    )
    value, _ = tile(dashboard(gateway, model), "tokens_saved")
    assert value == f"{figures[0] - figures[1]:,}"


def test_a_repeated_request_on_a_cache_route_is_a_hit_that_never_reaches_the_upstream(
    gateway: Gateway, mock_upstream: MockUpstream, model: str
) -> None:
    claude_route(gateway, mock_upstream, cache_ttl=60)
    mock_upstream.reply_with(Reply.json(message(input_tokens=4000)))
    client = sdk(gateway)
    ask = {"model": model, "max_tokens": 100, "messages": pods_conversation()}
    first = client.messages.with_raw_response.create(**ask)
    second = client.messages.with_raw_response.create(**ask)

    assert (first.headers["x-headroom-cache"], second.headers["x-headroom-cache"]) == (
        "miss",
        "hit",
    )
    assert second.parse().model_dump() == first.parse().model_dump()
    assert len(mock_upstream.requests) == 1
    miss, hit = logged(model, 2)
    assert (miss.cache_hit, hit.cache_hit, hit.input_tokens) == (False, True, 0)
    assert second.headers["x-headroom-tokens-before"] == first.headers["x-headroom-tokens-before"]
    value, detail = tile(dashboard(gateway, model), "cache_hit_rate")
    assert (value, detail) == ("50.0%", "1 answered from the cache")


def test_a_streamed_answer_is_replayed_from_the_cache_byte_for_byte_and_to_the_sdk(
    gateway: Gateway, mock_upstream: MockUpstream, model: str
) -> None:
    claude_route(gateway, mock_upstream, cache_ttl=60)
    mock_upstream.reply_with(Reply.sse(message_stream(input_tokens=4000)))
    body = {"model": model, "max_tokens": 100, "stream": True}
    body["messages"] = pods_conversation()
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        relayed = client.post("/v1/messages", json=body, headers=ANTHROPIC_AUTH)
        replayed = client.post("/v1/messages", json=body, headers=ANTHROPIC_AUTH)
    finals = []
    for _ in range(2):
        with sdk(gateway).messages.stream(
            model=model, max_tokens=100, messages=pods_conversation()
        ) as stream:
            finals.append(stream.get_final_message())

    assert relayed.content == replayed.content == b"".join(message_stream(input_tokens=4000))
    assert replayed.headers["content-type"] == "text/event-stream"
    assert finals[1].model_dump() == finals[0].model_dump()
    assert finals[1].content[0].text == "Hi"
    assert len(mock_upstream.requests) == 2
    assert [row.cache_hit for row in logged(model, 4)] == [False, True, False, True]


@pytest.fixture(scope="module")
def unhurried_server(
    django_db_setup: None,
    upstream_pool: list[MockUpstream],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    """A gateway without a compression budget: a loaded test machine must not turn one turn's
    compression into a fallback, which would (rightly) break the prefix this test checks."""
    log_path = tmp_path_factory.mktemp("unhurried") / "gateway.log"
    extra = {"HEADROOM_COMPRESSION_BUDGET_MS": "0"}
    server = start_gateway(log_path, extra, defaults_url=upstream_pool[3].url)
    yield server
    stop_gateway(server)


def test_a_ten_turn_conversation_is_forwarded_as_byte_prefixes_of_each_other(
    unhurried_server: Gateway, transactional_db: None, mock_upstream: MockUpstream, model: str
) -> None:
    claude_route(unhurried_server, mock_upstream)
    mock_upstream.reply_with(Reply.json(message(input_tokens=4000)))
    conversation: list[dict[str, Any]] = [{"role": "user", "content": "Fix the failing build."}]
    with httpx.Client(base_url=unhurried_server.url, timeout=30) as client:
        for number, output in enumerate(SESSION_OUTPUTS):
            conversation += tool_turn(number, output)
            body = {"model": model, "max_tokens": 100, "messages": conversation}
            response = client.post("/v1/messages", json=body, headers=ANTHROPIC_AUTH)
            assert response.status_code == 200, response.text

    forwarded = [request.body for request in mock_upstream.requests]
    closing = b"]}"
    for turn in range(len(SESSION_OUTPUTS) - 1):
        assert forwarded[turn].endswith(closing)
        assert forwarded[turn + 1].startswith(forwarded[turn][: -len(closing)]), turn
    assert {row.savings_note for row in logged(model, len(SESSION_OUTPUTS))} == {"compressed"}
