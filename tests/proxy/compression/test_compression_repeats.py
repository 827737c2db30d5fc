"""Reversible shortening: lines and blocks of lines repeated back to back are folded."""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.compression import compress_request
from proxy.compression.context import Context, ToolCall
from proxy.compression.policy import Policy
from proxy.compression.repeats import MAX_BLOCK_LINES, fold_repeats
from proxy.compression.transform import compress_text, results

_FOLD = re.compile(r"^[ \t]*\[previous (?:line|(\d+) lines) repeated (\d+) more times?\]$")


def unfold(text: str) -> str:
    """The text fold_repeats was given, rebuilt from its markers."""
    out: list[str] = []
    for line in text.split("\n"):
        marker = _FOLD.match(line)
        if marker:
            size = int(marker.group(1) or 1)
            out += out[-size:] * int(marker.group(2))
        else:
            out.append(line)
    return "\n".join(out)


def test_identical_lines_fold_to_the_line_and_a_count() -> None:
    text = "start\n" + "\tat Ledger.settle(Ledger.java:8)\n" * 12 + "end"
    folded = fold_repeats(text)
    assert folded == (
        "start\n\tat Ledger.settle(Ledger.java:8)\n\t[previous line repeated 11 more times]\nend"
    )
    assert unfold(folded) == text


def test_a_repeated_block_of_lines_folds_to_one_copy_and_a_count() -> None:
    frames = '  File "walk.py", line 7, in walk\n    return visit(node)\n'
    text = "Traceback (most recent call last):\n" + frames * 40 + "RecursionError: depth"
    folded = fold_repeats(text)
    assert folded == (
        "Traceback (most recent call last):\n"
        + frames
        + "  [previous 2 lines repeated 39 more times]\nRecursionError: depth"
    )
    assert unfold(folded) == text


def test_a_fold_is_made_only_when_the_marker_is_shorter_than_the_copies() -> None:
    assert fold_repeats("ok\nok\nend") == "ok\nok\nend"
    assert fold_repeats("a\nb\na\nb\nend") == "a\nb\na\nb\nend"
    long_line = "x" * 60
    assert fold_repeats(f"{long_line}\n{long_line}") == (
        f"{long_line}\n[previous line repeated 1 more time]"
    )


def test_blank_lines_and_blocks_longer_than_the_limit_are_not_folded() -> None:
    assert fold_repeats("a\n\n\n\n\nb") == "a\n\n\n\n\nb"
    block = [f"line number {i} of a long block" for i in range(MAX_BLOCK_LINES + 1)]
    text = "\n".join(block * 3)
    assert fold_repeats(text) == text


def test_text_without_repeated_lines_is_returned_as_is() -> None:
    text = "one\ntwo\nthree"
    assert fold_repeats(text) is text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "bb", "  c c", "", "\tat x", "dd" * 30]), max_size=80))
def test_folding_is_reversible_and_keeps_every_distinct_line(lines: list[str]) -> None:
    text = "\n".join(lines)
    folded = fold_repeats(text)
    assert unfold(folded) == text
    assert set(lines) <= set(folded.split("\n"))
    assert fold_repeats(text) == folded


def test_lossless_mode_folds_command_output_but_never_a_file() -> None:
    log = "=" * 30 + " FAILURES " + "=" * 30 + "\n" + "E   boom\n" * 20
    lossless = Policy("lossless")
    command = Context(ToolCall("Bash", {"command": "pytest -q"}))
    assert compress_text(log, lossless, command) == (
        "=" * 30 + " FAILURES " + "=" * 30 + "\nE   boom\n[previous line repeated 19 more times]\n"
    )
    read = Context(ToolCall("Bash", {"command": "cat failures.txt"}))
    assert compress_text(log, lossless, read) == log


def _seconds(function, text: str) -> float:
    started = time.perf_counter()
    function(text)
    return time.perf_counter() - started


def test_pathological_inputs_run_in_linear_time() -> None:
    cases = {
        "one long line": "a" * 1_000_000,
        "many short lines": "=\n" * 500_000,
        "identical lines": "same line\n" * 100_000,
        "two-line cycle": "a\nb\n" * 50_000,
        "near misses": "".join(f"a\nb{i % 17}\n" for i in range(50_000)),
        "a block longer than the limit": "".join(f"line {i % 17}\n" for i in range(100_000)),
    }
    for name, text in cases.items():
        small = _seconds(fold_repeats, text[: len(text) // 10])
        full = _seconds(fold_repeats, text)
        assert full < 2.0, name
        # Ten times the text takes about ten times as long, never a hundred.
        assert full < 30 * small + 0.05, name


def _progress_install(number: int) -> str:
    bars = "".join(f"\r{percent:3d}% |{'#' * (percent // 10):10}|" for percent in range(0, 101, 5))
    lines = [f"Downloading package-{number}-{i}.whl{bars}" for i in range(30)]
    return "\n".join([*lines, "Installing collected packages", "Successfully installed all"])


def _recursion(number: int) -> str:
    frames = f'  File "walk{number}.py", line 7, in walk\n    return visit(node)\n'
    return "Traceback (most recent call last):\n" + frames * 120 + "RecursionError: depth"


@pytest.mark.parametrize("fresh_worker", [False, True])
@pytest.mark.parametrize("mode", ["lossless", "aggressive"])
def test_folded_and_redrawn_output_keeps_every_turn_a_prefix_of_the_next(
    mode: str, fresh_worker: bool
) -> None:
    outputs = [(_progress_install if n % 2 else _recursion)(n) for n in range(10)]
    conversation: list[dict[str, object]] = [{"role": "user", "content": "Why does it fail?"}]
    results.clear()
    forwarded = []
    for number, output in enumerate(outputs):
        call = f"toolu_{number}"
        tool_use = {"type": "tool_use", "id": call, "name": "Bash", "input": {"command": "make"}}
        result = {"type": "tool_result", "tool_use_id": call, "content": output}
        conversation += [
            {"role": "assistant", "content": [tool_use]},
            {"role": "user", "content": [result]},
        ]
        if fresh_worker:
            results.clear()
        body = json.dumps({"model": "m", "messages": conversation}).encode()
        sent = compress_request("anthropic", "/v1/messages", body, mode=mode, budget_ms=0)
        assert sent.reason == "compressed"
        forwarded.append(sent.body)
    for turn in range(len(forwarded) - 1):
        assert forwarded[turn + 1].startswith(forwarded[turn][: -len(b"]}")])
    last = json.loads(forwarded[-1])["messages"]
    assert "[previous 2 lines repeated 119 more times]" in last[2]["content"][0]["content"]
    assert "100% |##########|" in last[4]["content"][0]["content"]
    assert not any("\r" in message["content"][0].get("content", "") for message in last[2::2])
