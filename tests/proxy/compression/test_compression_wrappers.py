"""Tool output that Codex and Gemini CLI wrap in their own text: the wrapper stays byte for byte,
the output inside is compressed as if it came bare. The client requests are real: each CLI was
run against a loopback mock and its second request (carrying the command's output) recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.compression import compress_request
from proxy.compression.transform import results
from proxy.compression.wrappers import unwrap
from tests.corpus import read

CODEX = read("clients/codex_exec_command.json").encode()
GEMINI = read("clients/gemini_cli_run_shell_command.json").encode()
GEMINI_PATH = "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
MODES = ("lossless", "aggressive")


@pytest.fixture(autouse=True)
def _empty_memo() -> None:
    results.clear()


def codex_output(body: bytes) -> str:
    items = json.loads(body)["input"]
    return next(item["output"] for item in items if item.get("type") == "function_call_output")


def gemini_output(body: bytes) -> str:
    parts = [part for content in json.loads(body)["contents"] for part in content["parts"]]
    response = next(part["functionResponse"] for part in parts if "functionResponse" in part)
    return response["response"]["output"]


def test_codex_header_is_recognised() -> None:
    wrapped = unwrap(codex_output(CODEX))
    assert wrapped is not None
    assert wrapped.head.startswith("Chunk ID: ") and wrapped.head.endswith("\nOutput:\n")
    assert wrapped.payload.startswith("Warning: truncated output")


def test_gemini_tags_and_fields_are_recognised() -> None:
    wrapped = unwrap(gemini_output(GEMINI))
    assert wrapped is not None
    assert wrapped.head == "<untrusted_context>\nOutput: "
    assert wrapped.tail.startswith("\nProcess Group PGID: ")
    assert wrapped.tail.endswith("\n</untrusted_context>")
    assert wrapped.payload.startswith("commit 1fda4c12b656b121a6449f91232d67b2a2d1720a\n")


@pytest.mark.parametrize(
    ("family", "path", "body", "output"),
    [
        ("openai", "/v1/responses", CODEX, codex_output),
        ("gemini", GEMINI_PATH, GEMINI, gemini_output),
    ],
    ids=["codex", "gemini"],
)
def test_the_wrapper_stays_and_the_payload_inside_is_thinned(
    family: str, path: str, body: bytes, output: Any
) -> None:
    before = unwrap(output(body))
    result = compress_request(family, path, body, mode="aggressive", budget_ms=0)
    after = unwrap(output(result.body))
    assert before is not None and after is not None
    assert (after.head, after.tail) == (before.head, before.tail)
    assert len(after.payload) < 0.6 * len(before.payload)
    # The user asked about the Gemini JSON-array stream commits; their entries stay whole.
    assert "Gemini's JSON-array stream, each through a route and the override" in after.payload


@pytest.mark.parametrize("mode", MODES)
def test_a_file_read_through_a_wrapper_stays_exact(mode: str) -> None:
    module = "import os\n\n\ndef main():  \n    return os.getcwd()\n" * 60
    output = (
        f"Chunk ID: 1\nWall time: 0.0010 seconds\nProcess exited with code 0\nOutput:\n{module}"
    )
    items = [
        {
            "type": "function_call",
            "call_id": "c",
            "name": "exec_command",
            "arguments": '{"cmd": "cat app.py"}',
        },
        {"type": "function_call_output", "call_id": "c", "output": output},
    ]
    body = json.dumps({"model": "m", "input": items}).encode()
    result = compress_request("openai", "/v1/responses", body, mode=mode, budget_ms=0)
    assert result.body == body


@pytest.mark.parametrize(
    "text",
    [
        "Output: (empty)",
        "<untrusted_context>\nOutput: ok\nExit Code: 1\nSignal: 9\n</untrusted_context>",
        "Command: ls\nDirectory: (root)\nOutput: a\nb\nError: (none)\nExit Code: 0",
        "Chunk ID: ab\nWall time: 1.0 seconds\nProcess exited with code 2\nOutput:\nboom\n",
    ],
)
def test_head_payload_and_tail_put_back_together_are_the_text(text: str) -> None:
    wrapped = unwrap(text)
    assert wrapped is not None
    assert wrapped.head + wrapped.payload + wrapped.tail == text


def test_plain_output_is_not_wrapped() -> None:
    assert unwrap("Output of the build:\nall good\n") is None
