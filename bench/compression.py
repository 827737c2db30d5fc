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

    .venv/bin/python bench/compression.py [--repeat 3] [--show-lost] [--server]

With `--server` every request goes through the real gateway (`manage.py serve` under Daphne, a
fresh SQLite database, the mode as HEADROOM_COMPRESSION_DEFAULT and the default time budget) to a
loopback upstream that records what arrives; ms is then the whole round trip.

It then sends every output as user text and as a system prompt, which must come back unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
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


# Sends one request body and returns the body forwarded upstream and the milliseconds it took.
Sender = Callable[[str, str, bytes, str, int], tuple[bytes, float]]
CLIENT_AUTH = {
    "anthropic": {"x-api-key": "sk-ant-bench", "anthropic-version": "2023-06-01"},
    "openai": {"authorization": "Bearer sk-bench"},
    "gemini": {"x-goog-api-key": "bench-key"},
}


@contextlib.contextmanager
def gateway(mode: str) -> Iterator[Sender]:
    """The real gateway in `mode` in front of a recording loopback upstream."""
    import httpx

    from tests.mock_upstream import MockUpstream

    upstream = MockUpstream()
    with tempfile.TemporaryDirectory() as scratch, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "headroom_site.settings",
            "DATABASE_URL": f"sqlite:///{scratch}/bench.sqlite3",
            "HEADROOM_COMPRESSION_DEFAULT": mode,
            "OPENAI_TARGET_API_URL": upstream.url,
            "ANTHROPIC_TARGET_API_URL": upstream.url,
            "GEMINI_TARGET_API_URL": upstream.url,
        }
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)
        server = subprocess.Popen(
            [*manage, "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        try:
            _wait_until_up(client)

            def send(family: str, path: str, body: bytes, mode: str, repeat: int):
                upstream.reset()
                headers = {**CLIENT_AUTH[family], "content-type": "application/json"}
                started = time.perf_counter()
                response = client.post(path, content=body, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                return upstream.requests[-1].body, elapsed

            yield send
        finally:
            client.close()
            server.terminate()
            server.wait(10)
            upstream.close()


def _wait_until_up(client: Any) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if client.get("/healthz").status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("the gateway did not start")


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
    parser.add_argument("--server", action="store_true", help="send through the real gateway")
    args = parser.parse_args()
    items = load_items()
    totals: dict[tuple[str, str], Totals] = defaultdict(Totals)
    for mode in MODES:
        with gateway(mode) if args.server else contextlib.nullcontext(measure) as send:
            run_mode(items, mode, send, args, totals)
    report(totals)
    plain_unchanged(items)


def run_mode(
    items: list[dict[str, Any]],
    mode: str,
    send: Sender,
    args: argparse.Namespace,
    totals: dict[tuple[str, str], Totals],
) -> None:
    for category, entry, family, path, body in cases(items):
        original = tool_output(path, body)
        sent, ms = send(family, path, body, mode, args.repeat)
        output = tool_output(path, sent)
        before = tokens.estimate(json.dumps(original, ensure_ascii=False).encode())
        after = tokens.estimate(json.dumps(output, ensure_ascii=False).encode())
        facts = entry["facts"]
        lost = [fact for fact in facts if squeeze(fact) not in squeeze(output)]
        if lost and args.show_lost:
            print(f"lost in {category}/{entry['id']} ({mode}): {lost}")
        keys = [(category, mode)] + ([("all bare", mode)] if path == MESSAGES else [])
        for key in keys:
            total = totals[key]
            total.add(before, after, len(facts), len(facts) - len(lost), entry["control"], ms)
            total.changed += entry["control"] and output != original


def report(totals: dict[tuple[str, str], Totals]) -> None:
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
