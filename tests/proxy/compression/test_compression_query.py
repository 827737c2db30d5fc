"""Query-aware retention: the terms of the user's question, of the call that produced a tool result
and of the assistant's text before it pin the lines, items and records that mention them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.compression import compress_request
from proxy.compression.arrays import thin_array
from proxy.compression.blocks import ANTHROPIC, GEMINI, OPENAI_CHAT, RESPONSES, find_blocks
from proxy.compression.context import ToolCall, terms_of
from proxy.compression.logs import compress_log
from proxy.compression.pinning import pinned_lines
from proxy.compression.transform import results
from tests.corpus import agent_turn, real_items, sent_output, squeezed

ITEMS = [item for item in real_items() if not item["control"]]
PACKAGES = "\n".join(
    ["Package            Version", "------------------ ---------"]
    + [f"package-{n:03d}        1.{n}.0" for n in range(200)]
)


@pytest.fixture(autouse=True)
def _empty_memo() -> None:
    results.clear()


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item["id"])
def test_every_fact_the_question_needs_survives_aggressive_mode(item: dict[str, Any]) -> None:
    body = agent_turn(item)
    result = compress_request("anthropic", "/v1/messages", body, mode="aggressive", budget_ms=0)
    assert result.reason in ("compressed", "no_gain")
    output = squeezed(sent_output(result.body))
    assert [fact for fact in item["facts"] if squeezed(fact) not in output] == []


def test_the_corpus_is_thinned_by_at_least_two_fifths_in_aggressive_mode() -> None:
    before = after = 0
    for item in ITEMS:
        body = agent_turn(item)
        result = compress_request("anthropic", "/v1/messages", body, mode="aggressive", budget_ms=0)
        before += len(item["output"])
        after += len(sent_output(result.body))
    assert after < 0.6 * before


def test_terms_come_from_the_question_the_call_and_the_text_before_it() -> None:
    call = ToolCall("bash", {"command": "pip show httpx==0.28.1 | grep -i 'Requires'"})
    terms = terms_of(["Is `orjson` installed?", "Checking proxy/compression/logs.py next."], call)
    # A quoted string, as a grep pattern often is, is a term too.
    assert {"orjson", "proxy/compression/logs.py", "logs.py", "httpx", "0.28.1", "requires"} <= set(
        terms
    )
    assert {"pip", "grep", "is", "installed"}.isdisjoint(terms)


def test_a_package_row_the_question_names_is_kept() -> None:
    kept = compress_log(PACKAGES, ("package-117",))
    assert "package-117        1.117.0" in kept
    assert "package-150" not in kept


def test_a_term_matches_whole_words_only() -> None:
    lines = ["Author: maintainers", "main branch", "remains"]
    assert pinned_lines("\n".join(lines), lines, ("main",)) == {1}


def test_a_term_in_most_lines_pins_none() -> None:
    lines = [f"src/app.py:{n}: timeout_handler" for n in range(100)]
    assert pinned_lines("\n".join(lines), lines, ("app.py",)) == set()


def test_a_git_log_entry_is_kept_whole_when_one_of_its_lines_is_asked_about() -> None:
    entries = [
        f"commit {n:040x}\nAuthor: Dev <dev@example.com>\nDate:   Mon Jan 1 00:00:{n % 60:02d} 2024"
        f"\n\n    Change number {n}\n"
        for n in range(60)
    ]
    kept = compress_log("\n".join(entries), ("number 31",))
    assert entries[31].strip() in kept


def test_an_array_item_the_question_names_is_kept() -> None:
    items = [{"name": f"pkg-{n}", "version": f"1.{n}"} for n in range(100)]
    thinned = thin_array(items, ("pkg-64",))
    assert thinned is not None and {"name": "pkg-64", "version": "1.64"} in thinned
    assert {"name": "pkg-65", "version": "1.65"} not in thinned


def chat_body(question: str, command: str, output: str) -> bytes:
    arguments = json.dumps({"command": command})
    messages = [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": "Listing them.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "bash", "arguments": arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": output},
    ]
    return json.dumps({"model": "m", "messages": messages}).encode()


def test_openai_tool_calls_give_their_arguments_as_terms() -> None:
    body = chat_body("Versions?", "pip list | grep package-042", PACKAGES).decode()
    (block,) = find_blocks(OPENAI_CHAT, body)
    assert block.context.call.command == "pip list | grep package-042"
    assert "package-042" in block.context.terms


def test_responses_function_calls_give_their_arguments_as_terms() -> None:
    items = [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Is foo-lib there?"}],
        },
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "exec_command",
            "arguments": '{"cmd": "pip list"}',
        },
        {"type": "function_call_output", "call_id": "c1", "output": PACKAGES},
    ]
    (block,) = find_blocks(RESPONSES, json.dumps({"input": items}))
    assert block.context.call.command == "pip list"
    assert "foo-lib" in block.context.terms


def test_each_tool_result_gets_the_terms_of_its_own_call() -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Compare them."}]
    for call, package in (("a", "alpha-pkg"), ("b", "beta-pkg")):
        tool_use = {
            "type": "tool_use",
            "id": call,
            "name": "bash",
            "input": {"command": f"pip show {package}"},
        }
        messages += [
            {"role": "assistant", "content": [tool_use]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call, "content": PACKAGES}],
            },
        ]
    first, second = find_blocks(ANTHROPIC, json.dumps({"messages": messages}))
    assert "alpha-pkg" in first.context.terms and "beta-pkg" not in first.context.terms
    assert "beta-pkg" in second.context.terms and "alpha-pkg" not in second.context.terms


def test_a_later_question_does_not_change_an_earlier_result() -> None:
    first = json.loads(chat_body("Is package-010 there?", "pip list", PACKAGES))
    later = {
        **first,
        "messages": first["messages"] + [{"role": "user", "content": "And package-150?"}],
    }
    one = compress_request(
        "openai", "/v1/chat/completions", json.dumps(first).encode(), mode="aggressive", budget_ms=0
    )
    two = compress_request(
        "openai", "/v1/chat/completions", json.dumps(later).encode(), mode="aggressive", budget_ms=0
    )
    assert two.body.startswith(one.body[: one.body.rindex(b"]")])
    assert "package-150" not in json.loads(two.body)["messages"][2]["content"]


def test_a_package_name_matches_either_spelling() -> None:
    terms = terms_of(["What does ahocorasick-rs require?"], ToolCall())
    assert {"ahocorasick-rs", "ahocorasick_rs"} <= set(terms)


def test_a_gemini_response_finds_its_call_by_id_or_by_name() -> None:
    call = {"functionCall": {"name": "run_shell_command", "args": {"command": "pip list"}}}
    response = {"functionResponse": {"id": "x9", "name": "run_shell_command", "response": {}}}
    contents = [
        {"role": "user", "parts": [{"text": "Is zlib-ng there?"}]},
        {"role": "model", "parts": [call]},
        {"role": "user", "parts": [response]},
    ]
    (block,) = find_blocks(GEMINI, json.dumps({"contents": contents}))
    assert block.context.call.command == "pip list"
    assert "zlib-ng" in block.context.terms
