"""What must reach the model exactly as sent: files, patches and prose stay byte for byte in every
mode, lossless included, whatever tool read them."""

from __future__ import annotations

import json

import pytest

from proxy.compression import compress_request
from proxy.compression.context import Context, ToolCall
from proxy.compression.kinds import is_exact
from proxy.compression.transform import results
from tests.corpus import agent_turn, real_items, sent_output

CONTROLS = [item for item in real_items() if item["control"]]
MODES = ("lossless", "aggressive")
# A Python module as it is on disk: two blank lines between definitions, a trailing space.
MODULE = "import os\n\n\ndef main():  \n    return os.getcwd()\n\n\n\nclass A:\n    pass\n" * 40


@pytest.fixture(autouse=True)
def _empty_memo() -> None:
    results.clear()


def tool_turn(name: str, call_input: dict[str, object], output: str) -> bytes:
    return agent_turn({"question": "Look at it.", "tool": name, "output": output}, call_input)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("item", CONTROLS, ids=lambda item: item["id"])
def test_files_and_prose_of_the_corpus_come_back_byte_for_byte(item: dict, mode: str) -> None:
    body = agent_turn(item)
    result = compress_request("anthropic", "/v1/messages", body, mode=mode, budget_ms=0)
    assert result.body == body


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("name", "call_input"),
    [
        ("Read", {"file_path": "/src/app.py"}),
        ("bash", {"command": "cat app.py"}),
        ("bash", {"command": "sed -n 1,400p app.py"}),
        ("exec_command", {"cmd": "head -n 400 app.py"}),
        ("str_replace_based_edit_tool", {"command": "view", "path": "/src/app.py"}),
        ("mcp_tool", {}),
    ],
)
def test_a_file_read_by_any_tool_keeps_its_blank_lines_and_trailing_spaces(
    name: str, call_input: dict[str, object], mode: str
) -> None:
    body = tool_turn(name, call_input, MODULE)
    result = compress_request("anthropic", "/v1/messages", body, mode=mode, budget_ms=0)
    assert sent_output(result.body) == MODULE


def test_a_json_file_read_with_cat_is_not_minified() -> None:
    package = json.dumps({"name": "app", "version": "1.0.0", "dependencies": {"a": "1"}}, indent=2)
    package += "\n" + " " * 600
    body = tool_turn("bash", {"command": "cat package.json"}, package)
    result = compress_request("anthropic", "/v1/messages", body, mode="aggressive", budget_ms=0)
    assert sent_output(result.body) == package


def test_a_json_api_answer_is_still_minified() -> None:
    answer = json.dumps([{"id": n, "name": f"item {n}"} for n in range(40)], indent=2)
    body = tool_turn("bash", {"command": "curl -s http://127.0.0.1:8000/items"}, answer)
    result = compress_request("anthropic", "/v1/messages", body, mode="lossless", budget_ms=0)
    assert sent_output(result.body) == json.dumps(json.loads(answer), separators=(",", ":"))


def test_numbered_file_text_is_exact_even_without_the_call() -> None:
    numbered = "\n".join(f"{n:>6}→{line}" for n, line in enumerate(MODULE.split("\n"), 1))
    assert is_exact(numbered, Context())


def test_a_patch_is_exact() -> None:
    patch = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n-a  \n+b\n" * 30
    assert is_exact(patch, Context(ToolCall("bash", {"command": "git diff"})))
    assert is_exact(patch, Context())


def test_prose_printed_by_a_command_is_exact() -> None:
    prose = (
        "The gateway forwards every request to the upstream of the first route that matches.\n\n\n"
        "It never changes the system prompt, and it keeps the bytes of a file as they are on "
        "the disk.   \n"
    ) * 20
    assert is_exact(prose, Context(ToolCall("bash", {"command": "gh issue view 14"})))


def test_command_output_is_not_exact() -> None:
    listing = "\n".join(f"ii  lib{n}:amd64   1.{n}-1   amd64   shared library" for n in range(90))
    assert not is_exact(listing, Context(ToolCall("bash", {"command": "dpkg -l"})))


def test_unknown_text_from_an_unknown_tool_is_exact() -> None:
    notes = "\n".join(f"note {n}: remember the {n}th item  " for n in range(90))
    assert is_exact(notes, Context(ToolCall("notes_tool", {})))


@pytest.mark.parametrize(
    ("command", "reads_a_file"),
    [
        ("cat app.py", True),
        ("cd src && cat app.py", True),
        ("cat app.py | head -50", True),
        ("sed -n 1,80p app.py | nl", True),
        ("cat app.log | grep ERROR", False),
        ("git log | head -50", False),
        ("cat setup.cfg; pytest -q", False),
        ("python -c 'print(f(pk=1))'", False),
        ("A=1 B=2", False),
    ],
)
def test_the_last_command_of_a_line_says_whether_a_file_is_shown(
    command: str, reads_a_file: bool
) -> None:
    assert Context(ToolCall("bash", {"command": command})).reads_a_file is reads_a_file
