"""What compression saves and what it costs, per corpus category and mode, on the real tool outputs
of tests/data/compression/items.json.

Each item is sent as an agent turn: the user's question, the assistant's call (the command, or the
file it read) and the tool result, as anthropic `/v1/messages`; the wrapped categories send the
same items as Codex (`/v1/responses`, a `Chunk ID … Output:` header) and Gemini CLI
(`functionResponse` with `<untrusted_context>`) would. Printed per category and mode:

- tokens saved: estimated tokens of the tool output before and after, and the share saved;
- facts kept: the item's must-keep facts still in the output (whitespace ignored);
- controls changed: files and prose (must come back byte for byte) that did not;
- ms per item: mean, p95 and max of the best of `--repeat` cold runs (memo cleared each time).

    .venv/bin/python bench/compression.py [--repeat 3] [--show-lost]

It then sends every output as user text and as a system prompt, which must come back unchanged.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proxy.compression import compress_request, tokens  # noqa: E402
from proxy.compression.transform import results  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "compression"
MODES = ("lossless", "aggressive")
MESSAGES = "/v1/messages"
RESPONSES = "/v1/responses"
GEMINI = "/v1beta/models/gemini-2.5-pro:generateContent"
# Every this-many item is also sent wrapped as each client wraps it.
WRAP_EVERY = 3


def load_items() -> list[dict[str, Any]]:
    items = json.loads((CORPUS / "items.json").read_text(encoding="utf-8"))
    for entry in items:
        entry["output"] = (CORPUS / entry["file"]).read_text(encoding="utf-8")
    return items


def call_input(entry: dict[str, Any]) -> dict[str, Any]:
    if entry["tool"] == "Read":
        return {"file_path": entry["command"]}
    return {"command": entry["command"]}


def anthropic_body(entry: dict[str, Any]) -> tuple[str, bytes]:
    messages = [
        {"role": "user", "content": entry["question"]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": entry["tool"],
                    "input": call_input(entry),
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": entry["output"]}
            ],
        },
    ]
    body = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": messages}
    return "anthropic", json.dumps(body).encode()


def codex_body(entry: dict[str, Any]) -> tuple[str, bytes]:
    """A Codex turn: exec_command's call and its output under Codex's header."""
    header = (
        "Chunk ID: 5f1c2a\nWall time: 0.4183 seconds\nProcess exited with code 0\n"
        f"Original token count: {len(entry['output']) // 4}\nOutput:\n"
    )
    arguments = json.dumps({"cmd": entry["command"], "workdir": entry["cwd"]})
    items = [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": entry["question"]}],
        },
        {
            "type": "function_call",
            "name": "exec_command",
            "arguments": arguments,
            "call_id": "call_1",
        },
        {"type": "function_call_output", "call_id": "call_1", "output": header + entry["output"]},
    ]
    return "openai", json.dumps({"model": "gpt-5-codex", "input": items}).encode()


def gemini_body(entry: dict[str, Any]) -> tuple[str, bytes]:
    """A Gemini CLI turn: run_shell_command's result in its tags and fields."""
    fields = f"Output: {entry['output']}\nProcess Group PGID: 48213"
    text = f"<untrusted_context>\n{fields}\n</untrusted_context>"
    name, args = "run_shell_command", {"command": entry["command"]}
    if entry["tool"] == "Read":
        name, args, text = "read_file", {"file_path": entry["command"]}, entry["output"]
    contents = [
        {"role": "user", "parts": [{"text": entry["question"]}]},
        {"role": "model", "parts": [{"functionCall": {"id": "c1", "name": name, "args": args}}]},
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"id": "c1", "name": name, "response": {"output": text}}}
            ],
        },
    ]
    return "gemini", json.dumps({"contents": contents}).encode()


def tool_output(path: str, body: bytes) -> str:
    """The tool output as the compressed body carries it (a wrapper included)."""
    value = json.loads(body)
    if path == MESSAGES:
        return value["messages"][-1]["content"][0]["content"]
    if path == RESPONSES:
        return value["input"][-1]["output"]
    return value["contents"][-1]["parts"][0]["functionResponse"]["response"]["output"]


@dataclass
class Totals:
    items: int = 0
    before: float = 0
    after: float = 0
    facts: int = 0
    kept: int = 0
    controls: int = 0
    changed: int = 0
    ms: list[float] = field(default_factory=list)

    def add(self, before: float, after: float, facts: int, kept: int, control: bool, ms: float):
        self.items += 1
        self.before += before
        self.after += after
        self.facts += facts
        self.kept += kept
        self.controls += control
        self.ms.append(ms)

    def row(self, label: str, mode: str) -> str:
        saved = 100 * (self.before - self.after) / self.before if self.before else 0.0
        p95 = (
            statistics.quantiles(self.ms, n=20, method="inclusive")[-1]
            if len(self.ms) > 1
            else self.ms[0]
        )
        return (
            f"{label:15} {mode:10} {self.items:5} {self.before:9.0f} {self.after:8.0f}"
            f" {saved:6.1f}%"
            f" {self.kept:5}/{self.facts:<5} {self.changed:3}/{self.controls:<3}"
            f" {statistics.fmean(self.ms):6.2f} {p95:6.2f} {max(self.ms):6.2f}"
        )


def squeeze(text: str) -> str:
    return "".join(text.split())


def measure(family: str, path: str, body: bytes, mode: str, repeat: int) -> tuple[bytes, float]:
    best = float("inf")
    for _ in range(repeat):
        results.clear()
        started = time.perf_counter()
        result = compress_request(family, path, body, mode=mode, budget_ms=0)
        best = min(best, time.perf_counter() - started)
    return result.body, best * 1000


def cases(items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], str, str, bytes]]:
    found = []
    for number, entry in enumerate(items):
        family, body = anthropic_body(entry)
        found.append((entry["category"], entry, family, MESSAGES, body))
        if number % WRAP_EVERY == 0:
            found.append(("wrapped-codex", entry, *_with_path(codex_body(entry), RESPONSES)))
            found.append(("wrapped-gemini", entry, *_with_path(gemini_body(entry), GEMINI)))
    return found


def _with_path(made: tuple[str, bytes], path: str) -> tuple[str, str, bytes]:
    return made[0], path, made[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--show-lost", action="store_true", help="print every fact left out")
    args = parser.parse_args()
    items = load_items()
    totals: dict[tuple[str, str], Totals] = defaultdict(Totals)
    for category, entry, family, path, body in cases(items):
        original = tool_output(path, body)
        for mode in MODES:
            sent, ms = measure(family, path, body, mode, args.repeat)
            output = tool_output(path, sent)
            before = tokens.estimate(json.dumps(original, ensure_ascii=False).encode())
            after = tokens.estimate(json.dumps(output, ensure_ascii=False).encode())
            lost = [f for f in entry["facts"] if squeeze(f) not in squeeze(output)]
            if lost and args.show_lost:
                print(f"lost in {category}/{entry['id']} ({mode}): {lost}")
            keys = [(category, mode)] + ([("all bare", mode)] if path == MESSAGES else [])
            for key in keys:
                total = totals[key]
                total.add(
                    before,
                    after,
                    len(entry["facts"]),
                    len(entry["facts"]) - len(lost),
                    entry["control"],
                    ms,
                )
                total.changed += entry["control"] and output != original
    print(
        f"{'category':15} {'mode':10} {'items':>5} {'tokens':>9} {'after':>8} {'saved':>7}"
        f" {'facts kept':>11} {'controls':>7} {'mean':>6} {'p95':>6} {'max':>6}"
        "  (controls: changed/all; ms per item)"
    )
    order = sorted(
        {c for c, _ in totals}, key=lambda c: (c == "all bare", c.startswith("wrapped"), c)
    )
    for category in order:
        for mode in MODES:
            print(totals[(category, mode)].row(category, mode))
    print()
    plain_unchanged(items)


def plain_unchanged(items: list[dict[str, Any]]) -> None:
    """Every output sent as user text and as a system prompt comes back byte for byte."""
    changed = checked = 0
    for entry in items:
        user = {"model": "m", "messages": [{"role": "user", "content": entry["output"]}]}
        system = {
            **user,
            "system": entry["output"],
            "messages": [{"role": "user", "content": "hi"}],
        }
        for body in (json.dumps(user).encode(), json.dumps(system).encode()):
            for mode in MODES:
                result = compress_request("anthropic", MESSAGES, body, mode=mode)
                checked += 1
                changed += result.body != body
    print(f"non-tool content: {checked} requests, {changed} changed (0 expected)")


if __name__ == "__main__":
    main()
