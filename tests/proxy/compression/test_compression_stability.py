"""Stable across turns: no result depends on the clock. A block left as sent because the time
budget ran out is remembered by its content, so every later turn sends it the same way."""

from __future__ import annotations

import itertools
import json

import pytest

from proxy.compression import compress_request, engine
from proxy.compression.transform import results
from tests.corpus import read

LOG = read("logs/pytest_failures.txt")
PODS = read("json/k8s_pods.json")


@pytest.fixture(autouse=True)
def _empty_memo() -> None:
    results.clear()


def turn(*outputs: str) -> bytes:
    messages: list[dict[str, object]] = [{"role": "user", "content": "Why is CI red?"}]
    for number, output in enumerate(outputs):
        call = f"toolu_{number}"
        tool_use = {"type": "tool_use", "id": call, "name": "bash", "input": {"command": "make"}}
        result = {"type": "tool_result", "tool_use_id": call, "content": output}
        messages += [
            {"role": "assistant", "content": [tool_use]},
            {"role": "user", "content": [result]},
        ]
    return json.dumps({"model": "m", "messages": messages}).encode()


def slow_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that moves a second per look: every deadline has passed by the first block."""
    clock = itertools.count(start=100.0, step=1.0)
    monkeypatch.setattr(engine.time, "perf_counter", lambda: next(clock))


def test_a_block_left_for_lack_of_time_is_left_on_every_later_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = turn(LOG)
    with monkeypatch.context() as patched:
        slow_clock(patched)
        late = compress_request("anthropic", "/v1/messages", first, mode="aggressive", budget_ms=20)
    assert (late.body, late.reason) == (first, "budget_exceeded")
    # The next turn has all the time it needs, and still sends the first output as before.
    second = turn(LOG, PODS)
    result = compress_request("anthropic", "/v1/messages", second, mode="aggressive", budget_ms=0)
    assert result.reason == "compressed"
    sent = json.loads(result.body)["messages"]
    assert sent[2]["content"][0]["content"] == LOG
    assert sent[4]["content"][0]["content"] != PODS


def test_blocks_decided_before_the_budget_ran_out_keep_their_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compressed = compress_request("anthropic", "/v1/messages", turn(LOG), mode="aggressive")
    slow_clock(monkeypatch)
    later = compress_request(
        "anthropic", "/v1/messages", turn(LOG, PODS), mode="aggressive", budget_ms=20
    )
    prefix = compressed.body[: compressed.body.rindex(b"}]}]") + 1]
    assert later.body.startswith(prefix)
    assert json.loads(later.body)["messages"][4]["content"][0]["content"] == PODS


def test_results_do_not_depend_on_the_memo() -> None:
    body = turn(LOG, PODS)
    first = compress_request("anthropic", "/v1/messages", body, mode="aggressive", budget_ms=0)
    results.clear()
    again = compress_request("anthropic", "/v1/messages", body, mode="aggressive", budget_ms=0)
    assert first.body == again.body
