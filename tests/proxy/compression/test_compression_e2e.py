"""Through the real server: the real corpus sent as agent turns to the gateway under Daphne, with
the route in aggressive mode, arrives at a loopback upstream with every fact asked about, every
file and prose byte for byte, and far fewer tool-output bytes; and a 10-turn conversation is
forwarded as byte prefixes of each other in every mode."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway, start_gateway, stop_gateway
from tests.corpus import SESSION_OUTPUTS, agent_turn, real_items, sent_output, squeezed
from tests.mock_upstream import MockUpstream, Reply

ANTHROPIC_AUTH = {
    "x-api-key": "sk-ant-client",
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
}
ANSWER = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4",
    "content": [{"type": "text", "text": "Found it."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 100, "output_tokens": 3},
}


@pytest.fixture(scope="module")
def unhurried(
    django_db_setup: None,
    upstream_pool: list[MockUpstream],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    """A gateway without a compression budget, so a loaded machine cannot change what is sent."""
    log_path = tmp_path_factory.mktemp("compression-e2e") / "gateway.log"
    server = start_gateway(log_path, {"HEADROOM_COMPRESSION_BUDGET_MS": "0"})
    yield server
    stop_gateway(server)


def route(gateway: Gateway, mock: MockUpstream, mode: str) -> str:
    gateway.routes(
        {
            "model_prefix": "claude-",
            "upstream": mock.url,
            "protocol": "anthropic",
            "compression": mode,
        }
    )
    mock.reply_with(Reply.json(ANSWER))
    return f"claude-e2e-{uuid.uuid4().hex[:8]}"


def test_the_real_corpus_through_the_gateway_keeps_every_fact_and_every_file(
    unhurried: Gateway, transactional_db: None, mock_upstream: MockUpstream
) -> None:
    model = route(unhurried, mock_upstream, "aggressive")
    items = real_items()
    with httpx.Client(base_url=unhurried.url, timeout=30) as client:
        for item in items:
            body = agent_turn(item).replace(b'"claude-sonnet-4-5"', f'"{model}"'.encode())
            response = client.post("/v1/messages", content=body, headers=ANTHROPIC_AUTH)
            assert response.status_code == 200, response.text
    sent = [sent_output(request.body) for request in mock_upstream.requests]
    lost = [
        (item["id"], fact)
        for item, output in zip(items, sent, strict=True)
        for fact in item["facts"]
        if squeezed(fact) not in squeezed(output)
    ]
    changed = [
        item["id"]
        for item, output in zip(items, sent, strict=True)
        if item["control"] and output != item["output"]
    ]
    assert (lost, changed) == ([], [])
    tool_output = [item for item in items if not item["control"]]
    before = sum(len(item["output"]) for item in tool_output)
    after = sum(len(out) for item, out in zip(items, sent, strict=True) if not item["control"])
    assert after < 0.6 * before


@pytest.mark.parametrize("mode", ["lossless", "aggressive"])
def test_a_ten_turn_conversation_keeps_every_earlier_turn_as_a_byte_prefix(
    unhurried: Gateway, transactional_db: None, mock_upstream: MockUpstream, mode: str
) -> None:
    model = route(unhurried, mock_upstream, mode)
    conversation: list[dict[str, Any]] = [{"role": "user", "content": "Fix the failing build."}]
    with httpx.Client(base_url=unhurried.url, timeout=30) as client:
        for number, output in enumerate(SESSION_OUTPUTS):
            call = {"type": "tool_use", "id": f"t{number}", "name": "bash", "input": {"n": number}}
            result = {"type": "tool_result", "tool_use_id": f"t{number}", "content": output}
            conversation += [
                {"role": "assistant", "content": [call]},
                {"role": "user", "content": [result]},
            ]
            body = {"model": model, "max_tokens": 100, "messages": conversation}
            response = client.post("/v1/messages", json=body, headers=ANTHROPIC_AUTH)
            assert response.status_code == 200, response.text
    forwarded = [request.body for request in mock_upstream.requests]
    for turn in range(len(forwarded) - 1):
        assert forwarded[turn + 1].startswith(forwarded[turn][: -len(b"]}")]), turn
