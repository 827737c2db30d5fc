"""Finding tool output in request bodies: every family, and nothing that is not tool output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from proxy.compression.blocks import endpoint_for, find_blocks
from proxy.compression.rawjson import RawJsonError

TOOL = "tool output"


def values(family: str, path: str, body: dict | str) -> list[object]:
    endpoint = endpoint_for(family, path)
    assert endpoint is not None
    text = body if isinstance(body, str) else json.dumps(body, indent=2)
    return [block.span.value for block in find_blocks(endpoint, text)]


def test_anthropic_tool_results_are_found_as_strings_and_text_blocks() -> None:
    body = {
        "system": "system text",
        "tools": [{"name": "bash", "description": "tool definition"}],
        "messages": [
            {"role": "user", "content": "user text"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "input": {}}]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "a", "content": TOOL + " 1"},
                    {"type": "text", "text": "user text after the result"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "b",
                        "content": [
                            {"type": "text", "text": TOOL + " 2"},
                            {"type": "image", "source": {"type": "base64", "data": "iVBOR"}},
                        ],
                    },
                ],
            },
            {"role": "user", "content": [{"type": "document", "source": {"data": "JVBER"}}]},
        ],
    }
    assert values("anthropic", "/v1/messages", body) == [TOOL + " 1", TOOL + " 2"]


def test_openai_tool_messages_are_found_and_nothing_else() -> None:
    body = {
        "tools": [{"type": "function", "function": {"name": "f", "description": "definition"}}],
        "messages": [
            {"role": "system", "content": "system text"},
            {"role": "user", "content": [{"type": "text", "text": "user text"}]},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]},
            {"role": "tool", "tool_call_id": "c", "content": TOOL + " 1"},
            {
                "role": "tool",
                "tool_call_id": "d",
                "content": [{"type": "text", "text": TOOL + " 2"}],
            },
        ],
    }
    assert values("openai", "/v1/chat/completions", body) == [TOOL + " 1", TOOL + " 2"]


def test_responses_function_call_outputs_are_found_and_nothing_else() -> None:
    body = {
        "instructions": "system text",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "user text"}]},
            {"type": "function_call", "call_id": "c", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": TOOL + " 1"},
            {
                "type": "function_call_output",
                "call_id": "d",
                "output": [
                    {"type": "input_text", "text": TOOL + " 2"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBOR"},
                ],
            },
        ],
    }
    assert values("openai", "/v1/responses", body) == [TOOL + " 1", TOOL + " 2"]


def test_a_responses_request_with_string_input_has_no_tool_output() -> None:
    assert values("openai", "/v1/responses", {"input": "user text"}) == []


def test_gemini_function_responses_are_found_as_objects() -> None:
    body = {
        "systemInstruction": {"parts": [{"text": "system text"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "user text"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "f", "response": {"output": TOOL}}},
                    {"function_response": {"name": "g", "response": {"rows": [1, 2]}}},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                ],
            },
        ],
    }
    found = values("gemini", "/v1beta/models/gemini-2.5-pro:generateContent", body)
    assert found == [{"output": TOOL}, {"rows": [1, 2]}]


@pytest.mark.parametrize(
    ("family", "path"),
    [
        ("openai", "/v1/embeddings"),
        ("openai", "/v1/completions"),
        ("anthropic", "/v1/models"),
        ("gemini", "/v1beta/models/text-embedding-004:embedContent"),
        ("anthropic", "/v1/chat/completions"),
    ],
)
def test_endpoints_without_tool_output_are_not_compressed(family: str, path: str) -> None:
    assert endpoint_for(family, path) is None


def test_percent_encoded_gemini_paths_are_recognised() -> None:
    assert endpoint_for("gemini", "/v1beta/models/gemini-2.5-pro%3AstreamGenerateContent")


def test_spans_point_at_the_raw_json_of_each_value() -> None:
    text = '{ "messages" : [ { "role" : "tool" , "content" : "caf\\u00e9 \\"x\\"" } ] }'
    endpoint = endpoint_for("openai", "/v1/chat/completions")
    assert endpoint is not None
    [block] = find_blocks(endpoint, text)
    assert text[block.span.start : block.span.end] == '"caf\\u00e9 \\"x\\""'
    assert block.span.value == 'café "x"'


@pytest.mark.parametrize("text", ['["not an object"]', '{"messages": [', '{"a": 1} trailing'])
def test_malformed_bodies_raise(text: str) -> None:
    endpoint = endpoint_for("openai", "/v1/chat/completions")
    assert endpoint is not None
    with pytest.raises(RawJsonError):
        find_blocks(endpoint, text)


def test_a_key_sent_twice_is_searched_in_both_places() -> None:
    text = (
        '{"messages": [{"role": "tool", "content": "first"}],'
        ' "messages": [{"role": "tool", "content": "second"}]}'
    )
    assert values("openai", "/v1/chat/completions", text) == ["first", "second"]


TRICKY = 'café "quoted" \\ back\nslash \x7f \u2028 😀 </tag>'


@pytest.mark.parametrize(
    "encode",
    [
        lambda body: json.dumps(body),
        lambda body: json.dumps(body, ensure_ascii=False),
        lambda body: json.dumps(body, indent=2).replace("/", "\\/"),
        lambda body: json.dumps(body).replace("\\u00e9", "\\u00E9"),
    ],
    ids=["ascii", "utf-8", "escaped-slashes", "upper-case-escapes"],
)
def test_spans_are_exact_however_the_client_escapes_its_strings(
    encode: Callable[[dict[str, Any]], str],
) -> None:
    body = {
        "messages": [
            {"role": "tool", "content": TRICKY, "name": TRICKY},
            {"role": "tool", "content": [{"type": "text", "text": TRICKY}]},
        ]
    }
    text = encode(body)
    endpoint = endpoint_for("openai", "/v1/chat/completions")
    assert endpoint is not None
    blocks = find_blocks(endpoint, text)
    assert [block.span.value for block in blocks] == [TRICKY, TRICKY]
    for block in blocks:
        assert json.loads(text[block.span.start : block.span.end]) == TRICKY


def test_a_key_sent_twice_inside_a_message_is_found_with_its_own_value() -> None:
    text = '{"messages": [{"role": "tool", "content": "first", "content": "second"}]}'
    endpoint = endpoint_for("openai", "/v1/chat/completions")
    assert endpoint is not None
    spans = [block.span for block in find_blocks(endpoint, text)]
    assert [text[span.start : span.end] for span in spans] == ['"first"', '"second"']
    assert [span.value for span in spans] == ["first", "second"]


@pytest.mark.parametrize("tool_first", [True, False], ids=["tool-first", "user-first"])
def test_a_conversation_key_sent_twice_is_searched_by_its_own_messages(tool_first: bool) -> None:
    tool = '[{"role": "tool", "content": "tool output"}]'
    user = '[{"role": "user", "content": "not tool output"}]'
    first, second = (tool, user) if tool_first else (user, tool)
    text = f'{{"messages": {first}, "messages": {second}}}'
    assert values("openai", "/v1/chat/completions", text) == ["tool output"]
