"""The tool-output corpus in tests/data/compression, as the tests read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent / "data" / "compression"


def read(name: str) -> str:
    """One corpus file, e.g. `json/k8s_pods.json`."""
    return (CORPUS / name).read_text(encoding="utf-8")


# Ten tool outputs of every category, in the order a replayed agent session receives them.
SESSION_OUTPUTS = [
    read(name)
    for name in (
        "logs/pytest_failures.txt",
        "json/api_customers.json",
        "search/ripgrep.txt",
        "git/git_diff.txt",
        "logs/npm_install.txt",
        "json/github_runs.json",
        "logs/cargo_build.txt",
        "git/git_log.txt",
        "traces/java_spring.txt",
        "json/k8s_pods.json",
    )
]


def real_items() -> list[dict[str, Any]]:
    """The captured real tool outputs (`items.json`): each with its command, the user's question,
    the facts that answer needs, and whether it is a file or prose that must stay exact."""
    items = json.loads(read("items.json"))
    for item in items:
        item["output"] = read(item["file"])
    return items


def agent_turn(item: dict[str, Any], call_input: dict[str, Any] | None = None) -> bytes:
    """An anthropic body asking the item's question, calling its tool (with `call_input`, or the
    item's command or file) and carrying its output."""
    if call_input is None:
        key = "file_path" if item["tool"] == "Read" else "command"
        call_input = {key: item["command"]}
    messages = [
        {"role": "user", "content": item["question"]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": item["tool"], "input": call_input}
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": item["output"]}
            ],
        },
    ]
    return json.dumps({"model": "claude-sonnet-4-5", "messages": messages}).encode()


def sent_output(body: bytes) -> str:
    """The tool output an `agent_turn` body carries after compression."""
    return json.loads(body)["messages"][-1]["content"][0]["content"]


def squeezed(text: str) -> str:
    """Text without whitespace: facts are compared so, since minified JSON drops its spaces."""
    return "".join(text.split())
