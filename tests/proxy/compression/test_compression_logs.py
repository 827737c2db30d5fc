"""Thinning log, build, test and search output: what must survive, and how the rest is told."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.compression.logs import (
    HEAD_LINES,
    MIN_LINES,
    TAIL_LINES,
    compress_log,
    looks_like_log,
)
from proxy.compression.policy import Policy
from proxy.compression.text import clean_text
from proxy.compression.transform import compress_text
from tests.corpus import CORPUS, read

# Text tool outputs of the corpus; JSON documents are thinned as arrays, not as logs.
TEXT_FILES = sorted(
    p
    for p in CORPUS.rglob("*")
    if p.suffix in (".txt", ".log")
    and not p.read_text(encoding="utf-8").lstrip().startswith(("{", "["))
)
AGGRESSIVE = Policy("aggressive")
# Written independently of the engine's needles: what a reader calls an error, a warning, a
# failure or a stack-trace line.
MUST_SURVIVE = re.compile(
    r"error|warn|fail|fatal|panic|exception|traceback|caused by"
    r'|^\s+at |^\s*File "|^E\s|^\s*--> ',
    re.IGNORECASE,
)
_MARKER = re.compile(r"^\[\.\.\. (\d+) lines omitted \.\.\.\]$")
_COUNT = re.compile(r" \[repeated (\d+) times\]$| \[\+(\d+) similar lines\]$")


def build_log(middle: list[str], head: int = HEAD_LINES, tail: int = TAIL_LINES) -> str:
    # Head and tail lines differ in letters, so none of them collapse into another.
    lines = [f"resolving dependency {chr(97 + i % 26) * (1 + i // 26)}" for i in range(head)]
    lines += middle
    lines += [f"finished stage {chr(65 + i % 26) * (1 + i // 26)}" for i in range(tail)]
    return "\n".join(lines)


def represented_lines(output: str) -> int:
    """How many input lines the output stands for: kept lines, counted repeats and markers."""
    total = 0
    for line in output.split("\n"):
        marker = _MARKER.match(line)
        count = _COUNT.search(line)
        if marker:
            total += int(marker.group(1))
        elif count:
            total += int(count.group(1)) if count.group(1) else int(count.group(2)) + 1
        else:
            total += 1
    return total


@pytest.mark.parametrize("path", TEXT_FILES, ids=lambda p: p.name)
def test_every_error_warning_and_stack_trace_line_of_the_corpus_survives(path: Path) -> None:
    text = clean_text(path.read_text(encoding="utf-8"))
    output_lines = set(compress_text(text, AGGRESSIVE).split("\n"))
    stripped_counts = {_COUNT.sub("", line) for line in output_lines}
    for line in text.split("\n"):
        if MUST_SURVIVE.search(line):
            assert line in output_lines or line in stripped_counts, line


@pytest.mark.parametrize("path", TEXT_FILES, ids=lambda p: p.name)
def test_the_output_accounts_for_every_input_line(path: Path) -> None:
    text = clean_text(path.read_text(encoding="utf-8"))
    assert represented_lines(compress_log(text)) == len(text.split("\n"))


def test_identical_lines_collapse_into_one_with_a_count() -> None:
    output = compress_log(build_log(["GET /healthz 200"] * 30))
    assert "GET /healthz 200 [repeated 30 times]" in output.split("\n")


def test_lines_that_differ_only_in_numbers_collapse_into_one_with_a_count() -> None:
    middle = [f"Downloading chunk {i} of 90 ({i * 11} kB)" for i in range(1, 91)]
    output = compress_log(build_log(middle))
    assert "Downloading chunk 1 of 90 (11 kB) [+89 similar lines]" in output.split("\n")


def test_alike_error_lines_are_each_kept() -> None:
    middle = [f"ERROR job {i} failed with code {i}" for i in range(40)]
    output = compress_log(build_log(middle)).split("\n")
    assert all(line in output for line in middle)


def test_head_and_tail_are_kept_and_the_middle_is_replaced_by_a_marker() -> None:
    middle = [f"compiled module {name} ok" for name in ("alpha", "beta", "gamma", "delta") * 30]
    text = build_log(middle)
    output = compress_log(text).split("\n")
    lines = text.split("\n")
    assert output[:HEAD_LINES] == lines[:HEAD_LINES]
    assert output[-TAIL_LINES:] == lines[-TAIL_LINES:]
    assert output[HEAD_LINES] == "[... 120 lines omitted ...]"


def test_indented_lines_after_an_error_are_kept_with_it() -> None:
    middle = [f"processed record {name}" for name in ("a", "b", "c") * 20]
    trace = [
        "Traceback (most recent call last):",
        '  File "/srv/app/jobs.py", line 12, in run',
        "    total = compute(batch)",
        "ZeroDivisionError: division by zero",
    ]
    output = compress_log(build_log(middle[:30] + trace + middle[30:]))
    assert "\n".join(trace) in output


@pytest.mark.parametrize("line", ["E       2 == 3", "> total = compute(batch)"])
def test_a_line_important_only_by_its_first_characters_is_kept(line: str) -> None:
    middle = [f"collected item {name}" for name in ("a", "b", "c") * 20]
    output = compress_log(build_log(middle[:30] + [line] + middle[30:])).split("\n")
    assert line in output


def test_a_warning_line_repeated_word_for_word_collapses_but_alike_warnings_do_not() -> None:
    middle = ["WARN disk 91% full"] * 5 + ["WARN disk 92% full"] + [f"tick {n}" for n in "abcdef"]
    output = compress_log(build_log(middle * 6)).split("\n")
    assert output.count("WARN disk 91% full [repeated 5 times]") == 6
    assert output.count("WARN disk 92% full") == 6


def test_text_shorter_than_the_minimum_is_never_cut() -> None:
    text = "\n".join(f"line {name}" for name in range(MIN_LINES - 1))
    assert "omitted" not in compress_log(text)


def test_progress_bars_redrawn_with_carriage_returns_keep_their_last_drawing() -> None:
    output = compress_log("fetching\r 10%\r 50%\r100% done\nnext")
    assert output == "100% done\nnext"


def test_build_and_test_output_looks_like_log_output() -> None:
    assert looks_like_log(read("logs/pytest_failures.txt"))
    assert looks_like_log(read("search/ripgrep.txt"))


def test_a_diff_is_not_treated_as_log_output() -> None:
    assert not looks_like_log(read("git/git_diff.txt") * 3)


def test_source_code_is_not_treated_as_log_output() -> None:
    source = Path(__file__).resolve().parents[3] / "proxy" / "compression" / "arrays.py"
    assert not looks_like_log(source.read_text())


def test_aggressive_mode_leaves_text_that_is_not_log_output_whole() -> None:
    prose = "\n".join(
        f"Paragraph {i} explains the refund policy in plain words." for i in range(90)
    )
    assert compress_text(prose, AGGRESSIVE) == prose


NOISE = st.sampled_from(
    [
        "GET /healthz 200",
        "processed batch 7 in 31 ms",
        "  Downloading httpx-0.27.0-py3-none-any.whl (75 kB)",
        "tests/test_api.py::test_list PASSED",
        "",
        "Compiling serde v1.0.203",
    ]
)
ALARMS = st.sampled_from(
    [
        "ERROR payment 4411 failed: card_declined",
        "npm warn deprecated inflight@1.0.6: leaks memory",
        "FAILED tests/test_tax.py::test_vat - AssertionError",
        "Traceback (most recent call last):",
        '  File "/srv/app/tax.py", line 61, in rate',
        "ValueError: unknown country 'XX'",
        "\tat com.acme.Billing.run(Billing.java:88)",
        "thread 'main' panicked at src/main.rs:4:5",
    ]
)


@settings(deadline=None)
@given(st.lists(st.one_of(NOISE, NOISE, NOISE, ALARMS), min_size=MIN_LINES, max_size=400))
def test_no_error_warning_or_stack_trace_line_is_ever_left_out(lines: list[str]) -> None:
    output = compress_log("\n".join(lines)).split("\n")
    survivors = set(output) | {_COUNT.sub("", line) for line in output}
    for line in lines:
        if MUST_SURVIVE.search(line):
            assert line in survivors
    assert represented_lines("\n".join(output)) == len(lines)
