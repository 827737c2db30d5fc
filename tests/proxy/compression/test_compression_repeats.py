"""Reversible shortening: lines and blocks of lines repeated back to back are folded."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.compression.context import Context, ToolCall
from proxy.compression.policy import Policy
from proxy.compression.repeats import MAX_BLOCK_LINES, fold_repeats
from proxy.compression.transform import compress_text

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
