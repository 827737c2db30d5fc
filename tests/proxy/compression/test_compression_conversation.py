"""Cache safety: replaying a 10-turn agent conversation, turn N's forwarded body is a byte prefix
of turn N+1's up to the new messages, in every family and mode, on one worker or many.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from proxy.compression import compress_request
from proxy.compression.transform import results
from tests.corpus import SESSION_OUTPUTS

TURNS = len(SESSION_OUTPUTS)


def anthropic_turn(number: int, output: str) -> list[dict[str, Any]]:
    call = f"toolu_{number:02d}"
    return [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": f"Step {number}: running the next check."},
                {"type": "tool_use", "id": call, "name": "bash", "input": {"step": number}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call, "content": output}],
        },
    ]


def openai_turn(number: int, output: str) -> list[dict[str, Any]]:
    call = f"call_{number:02d}"
    function = {"name": "bash", "arguments": json.dumps({"step": number})}
    return [
        {"role": "assistant", "content": None, "tool_calls": [{"id": call, "function": function}]},
        {"role": "tool", "tool_call_id": call, "content": output},
    ]


def responses_turn(number: int, output: str) -> list[dict[str, Any]]:
    call = f"call_{number:02d}"
    return [
        {"type": "function_call", "call_id": call, "name": "bash", "arguments": "{}"},
        {"type": "function_call_output", "call_id": call, "output": output},
    ]


def gemini_turn(number: int, output: str) -> list[dict[str, Any]]:
    try:
        response = {"result": json.loads(output)}
    except ValueError:
        response = {"output": output}
    return [
        {"role": "model", "parts": [{"functionCall": {"name": "bash", "args": {"step": number}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "bash", "response": response}}]},
    ]


FAMILIES: dict[str, tuple[str, str, str, Callable[[int, str], list[dict[str, Any]]]]] = {
    "anthropic": ("anthropic", "/v1/messages", "messages", anthropic_turn),
    "openai": ("openai", "/v1/chat/completions", "messages", openai_turn),
    "responses": ("openai", "/v1/responses", "input", responses_turn),
    "gemini": ("gemini", "/v1beta/models/gemini-2.5-pro:generateContent", "contents", gemini_turn),
}


def client_bodies(name: str, indent: int | None) -> tuple[list[bytes], bytes]:
    """The body a client sends at each turn (conversation last), and the bytes that close it."""
    _, _, key, turn = FAMILIES[name]
    head = {
        "model": "agent-model",
        "system": "You are a careful coding agent.",
        "tools": [{"name": "bash", "description": json.dumps({"usage": "run a command"})}],
    }
    conversation: list[dict[str, Any]] = [{"role": "user", "content": "Fix the failing build."}]
    if name == "gemini":
        conversation = [{"role": "user", "parts": [{"text": "Fix the failing build."}]}]
    bodies = []
    for number, output in enumerate(SESSION_OUTPUTS):
        conversation += turn(number, output)
        bodies.append(json.dumps({**head, key: conversation}, indent=indent).encode())
    closing = json.dumps({key: [0]}, indent=indent).encode()
    return bodies, closing[closing.rindex(b"0") + 1 :]


@pytest.mark.parametrize("workers", ["one worker", "a fresh worker per turn"])
@pytest.mark.parametrize("mode", ["lossless", "aggressive"])
@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("name", list(FAMILIES))
def test_each_forwarded_turn_is_a_byte_prefix_of_the_next(
    name: str, indent: int | None, mode: str, workers: str
) -> None:
    family, path, _, _ = FAMILIES[name]
    bodies, closing = client_bodies(name, indent)
    results.clear()
    forwarded = []
    for body in bodies:
        if workers != "one worker":
            results.clear()
        result = compress_request(family, path, body, mode=mode, budget_ms=0)
        assert result.reason == "compressed"
        forwarded.append(result.body)
    for turn in range(TURNS - 1):
        assert forwarded[turn].endswith(closing)
        prefix = forwarded[turn][: -len(closing)]
        assert forwarded[turn + 1].startswith(prefix), f"turn {turn} is not a prefix of the next"


@pytest.mark.parametrize("name", list(FAMILIES))
def test_the_replayed_conversation_is_forwarded_smaller(name: str) -> None:
    family, path, _, _ = FAMILIES[name]
    bodies, _ = client_bodies(name, 2)
    last = compress_request(family, path, bodies[-1], mode="aggressive", budget_ms=0)
    assert last.tokens_after < last.tokens_before / 2
    assert len(last.body) < len(bodies[-1]) / 2
