"""Every regular expression that sees client text runs in linear time.

Each pattern is run, as the gateway runs it, on an input shaped to make a backtracking pattern
retry: at these sizes a quadratic pattern takes minutes (the 70 KB log that froze the gateway
took seconds), a linear one milliseconds, so a regression shows as a test that never ends. The
three patterns that were rewritten are also checked against the old ones on many small inputs.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest

from proxy import jsonbody, jsondepth
from proxy.compression import arrays, context, kinds, logs, pinning, rawjson, text, wrappers
from proxy.compression.context import Context

# A quadratic pattern does about N * N / 2 steps on these: 2 * 10**10 and more.
N = 200_000

OLD_OVERDRAWN = re.compile(r"[^\n\r]*\r(?=[^\n])")
OLD_GEMINI_TAIL = re.compile(
    r"(?:\n(?:Error|Exit Code|Signal|Background PIDs|Process Group PGID): [^\n]*)+\Z"
)
OLD_LOG_LINE = re.compile(
    logs._LOG_LINE.pattern.replace(
        r"(?=\S*?\S::\S)\S++ (?:PASSED|FAILED)", r"\S+::\S+ (?:PASSED|FAILED)"
    )
)


def long_line_with_a_carriage_return() -> None:
    drawn = "a" * N + "\r" + "b" * N + "\n" + "c" * N
    assert logs._OVERDRAWN.sub("", drawn) == "b" * N + "\n" + "c" * N


def a_line_of_double_colons() -> None:
    assert logs._LOG_LINE.match("x" + "::" * N + "x") is None


def many_gemini_tail_lines_not_at_the_end() -> None:
    body = "Output: done" + "\nError: again" * (N // 4) + "\nthe end"
    wrapped = wrappers.unwrap(body)
    assert wrapped is not None and wrapped.tail == ""


def an_unclosed_json_string_in_the_depth_check() -> None:
    body = b'{"a": ["' + b"x" * N + b"[" * N
    assert not jsondepth.json_deeper_than(body, 64)


def an_unclosed_string_fed_to_the_stream_reader() -> None:
    children = jsonbody.Children(["usage"], 1024)
    assert children.feed(b'{"usage": "' + b"\\x" * N) == []


def an_unterminated_terminal_escape() -> None:
    # Neither escape is complete: only the two-byte `ESC ]` goes.
    assert text.strip_ansi("\x1b[" + "0" * N + "\x1b]" + "t" * N) == "\x1b[" + "0" * N + "t" * N


def a_long_run_of_blank_lines() -> None:
    assert text.clean_text("a" + "\n" * N + "b") == "a\n\nb"


def long_lines_in_the_kind_sample() -> None:
    lines = ["    " + "1" * 4000, "word " * 800 + "x", "- " * 2000, "--- a/" + "x" * 4000] * 3
    kinds.is_exact("\n".join(lines) * 40, Context())


def a_long_unclosed_member_name() -> None:
    document = '{"' + "k" * N
    with pytest.raises(ValueError):
        rawjson.locate(document, 0, {"k": rawjson.LEAF}, [])


def terms_in_long_runs_of_term_characters() -> None:
    request = "a" + "-" * N + " '" + "q" * N + " `" + "." * N + " --" + "-" * N
    context.text_terms(request)


def error_names_and_verdicts_in_long_values() -> None:
    assert not arrays._ERROR_NAME.search("timed" * N)
    assert not arrays._BAD_VERDICT.search(("DOWN" + "x" * N + "Timed" * N).lower())


def commit_lines_and_log_sections() -> None:
    lines = ["commit " + "a" * N, "= " + "= " * N + "x", "1" * N + " x"]
    pinning.pinned_lines("\n".join(lines), lines, ("a",))
    logs.whole_blocks("=" * N + " FAILURES " + "=" * N + "x\n" + "= " * N, lines)
    assert not logs._GUTTER.match("1" * N)


def long_wrapped_texts() -> None:
    assert wrappers.unwrap("<output>\n" + "x" * N) is None
    assert wrappers.unwrap("Chunk ID: " + "x" * N) is None


CASES: dict[str, Callable[[], None]] = {
    "logs._OVERDRAWN": long_line_with_a_carriage_return,
    "logs._LOG_LINE": a_line_of_double_colons,
    "wrappers gemini tail": many_gemini_tail_lines_not_at_the_end,
    "jsondepth._STRING, _JSON_CONTAINER, _RUNS": an_unclosed_json_string_in_the_depth_check,
    "jsonbody._STREAM_TOKENS, _STRING_REST": an_unclosed_string_fed_to_the_stream_reader,
    "text._ANSI, _ERASE_LINE": an_unterminated_terminal_escape,
    "text._BLANK_RUNS": a_long_run_of_blank_lines,
    "kinds._NUMBERED, _PROSE_LINE, _DIFF, _WORD": long_lines_in_the_kind_sample,
    "rawjson._PLAIN_KEY, _COLON, _SEPARATOR, _WHITESPACE": a_long_unclosed_member_name,
    "context._TERM, _QUOTED, _FLAG": terms_in_long_runs_of_term_characters,
    "arrays._ERROR_NAME, _BAD_VERDICT": error_names_and_verdicts_in_long_values,
    "pinning._COMMIT, logs._SECTION, _BLOCK_START, _GUTTER": commit_lines_and_log_sections,
    "wrappers._TAGGED, _CODEX_HEAD, _GEMINI_HEAD": long_wrapped_texts,
}


@pytest.mark.parametrize("name", CASES)
def test_the_pattern_finishes_on_input_built_to_make_it_backtrack(name: str) -> None:
    CASES[name]()


def small_texts(alphabet: str, count: int = 3000) -> list[str]:
    generator = random.Random(12)
    return [
        "".join(generator.choice(alphabet) for _ in range(generator.randrange(12)))
        for _ in range(count)
    ]


def test_overdrawn_lines_are_removed_as_the_old_pattern_removed_them() -> None:
    for sample in small_texts("ab\r\n"):
        assert logs._OVERDRAWN.sub("", sample) == OLD_OVERDRAWN.sub("", sample), repr(sample)


def test_the_gemini_tail_starts_where_the_old_pattern_found_it() -> None:
    pieces = ["\n", "Error: ", "Exit Code: ", "x", " ", "Output"]
    generator = random.Random(7)
    for _ in range(3000):
        sample = "".join(generator.choice(pieces) for _ in range(generator.randrange(10)))
        start = generator.randrange(len(sample) + 1)
        old = OLD_GEMINI_TAIL.search(sample, start)
        expected = old.start() if old is not None else len(sample)
        assert wrappers.gemini_tail_start(sample, start) == expected, (repr(sample), start)


def test_log_lines_are_recognized_as_the_old_pattern_recognized_them() -> None:
    assert OLD_LOG_LINE.pattern != logs._LOG_LINE.pattern
    for sample in small_texts("a:: PASSEDF.x"):
        old = OLD_LOG_LINE.match(sample) is not None
        assert (logs._LOG_LINE.match(sample) is not None) == old, repr(sample)
    assert logs._LOG_LINE.match("tests/test_a.py::test_it PASSED")
