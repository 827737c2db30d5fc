"""Lossless transforms of tool-output text: terminal escapes, whitespace, JSON minification."""

from __future__ import annotations

import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.compression.jsontext import NOT_JSON, dump_string, minify, parse_document
from proxy.compression.text import (
    clean_text,
    collapse_blank_lines,
    resolve_overwrites,
    strip_ansi,
    strip_trailing_whitespace,
)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def test_colour_codes_are_removed() -> None:
    assert strip_ansi("\x1b[1m\x1b[32m   Compiling\x1b[0m serde v1.0") == "   Compiling serde v1.0"


def test_cursor_movement_and_hyperlink_escapes_are_removed() -> None:
    text = "\x1b[2K\x1b[1Gdone \x1b]8;;https://example.com\x07link\x1b]8;;\x07"
    assert strip_ansi(text) == "done link"


def test_text_without_escapes_is_returned_as_is() -> None:
    text = "plain output\n"
    assert strip_ansi(text) is text


def test_trailing_spaces_tabs_and_carriage_returns_are_removed() -> None:
    assert strip_trailing_whitespace("a  \nb\t\r\nc \r\nd   ") == "a\nb\nc\nd"


def test_leading_indentation_is_kept() -> None:
    assert strip_trailing_whitespace("    at foo()  \n\tat bar()") == "    at foo()\n\tat bar()"


def test_runs_of_blank_lines_become_one_blank_line() -> None:
    assert collapse_blank_lines("a\n\n\n\n\nb\n\nc") == "a\n\nb\n\nc"


def test_a_progress_bar_keeps_only_its_last_drawing() -> None:
    text = "Downloading\n 10% |#   |\r 50% |##  |\r100% |####| done\nInstalled"
    assert resolve_overwrites(text) == "Downloading\n100% |####| done\nInstalled"


def test_a_shorter_drawing_leaves_the_end_of_a_longer_one_showing() -> None:
    # As on a terminal: "XY" is written over the first two columns of "abcdef".
    assert resolve_overwrites("abcdef\rXY\nnext") == "XYcdef\nnext"


def test_a_drawing_that_erases_the_line_hides_what_came_before() -> None:
    assert resolve_overwrites("abcdef\r\x1b[2KXY") == "XY"
    assert resolve_overwrites("abcdef\rXY\x1b[K") == "XY"
    assert clean_text("\x1b[32m 10%\x1b[0m\r\x1b[32m100%\x1b[0m\r\n") == "100%\n"


def test_line_end_carriage_returns_are_left_to_the_whitespace_step() -> None:
    text = "a\r\nb\r\n"
    assert resolve_overwrites(text) == text
    assert clean_text(text) == "a\nb\n"


def test_carriage_returns_in_a_megabyte_line_are_resolved_in_linear_time() -> None:
    line = "a" * 1_000_000 + "\r" + "b\r" * 100_000 + "c"
    started = time.perf_counter()
    view = resolve_overwrites(line)
    assert time.perf_counter() - started < 1.0
    assert view == "c" + "a" * 999_999


def test_clean_text_collapses_lines_that_were_only_whitespace() -> None:
    assert clean_text("a\n   \n\t\n \nb\x1b[0m  \n") == "a\n\nb\n"


def test_pretty_printed_json_is_written_compactly() -> None:
    pretty = json.dumps({"id": 1, "tags": ["a", "b"], "name": "é"}, indent=4)
    assert minify(pretty) == '{"id":1,"tags":["a","b"],"name":"é"}'


def test_text_that_is_not_a_json_document_is_not_minified() -> None:
    assert minify('Result: {\n  "id": 1\n}') is None
    assert minify('"just a string"') is None
    assert minify("{ not json }") is None


def test_documents_with_non_finite_numbers_are_left_alone() -> None:
    assert minify('{"ratio": NaN}') is None
    assert minify('{"big": 1e400}') is None


def test_parse_document_accepts_surrounding_whitespace() -> None:
    assert parse_document("\n  [1, 2]\n\n") == [1, 2]
    assert parse_document("plain") is NOT_JSON


def test_lone_surrogates_are_written_as_escapes() -> None:
    literal = dump_string("bad \ud800 half")
    assert literal.isascii()
    assert json.loads(literal) == "bad \ud800 half"


@settings(deadline=None)
@given(JSON_VALUES.filter(lambda v: isinstance(v, list | dict)), st.sampled_from([None, 1, 2, 4]))
def test_minified_json_parses_back_to_the_same_value(value: object, indent: int | None) -> None:
    minified = minify(json.dumps(value, indent=indent))
    assert minified is not None
    assert json.loads(minified) == value


def _stdlib_compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@settings(deadline=None)
@given(JSON_VALUES.filter(lambda v: isinstance(v, list | dict)))
def test_minified_json_is_byte_for_byte_what_the_standard_library_writes(value: object) -> None:
    assert minify(json.dumps(value, indent=2)) == _stdlib_compact(value)


def test_floats_below_one_ten_thousandth_are_written_as_the_standard_library_writes_them() -> None:
    value = {"tiny": 1.5e-05, "tinier": -7.866340851152702e-07, "zero": 0.0, "big": 1e16}
    assert minify(json.dumps(value, indent=2)) == _stdlib_compact(value)
    assert minify(json.dumps([0.00003, 1e-7], indent=2)) == "[3e-05,1e-07]"


def test_text_that_only_mentions_small_floats_is_minified() -> None:
    value = {"note": "ratio 1e-5, or 0.00001", "name": "service-e-1", "ok": 1}
    assert minify(json.dumps(value, indent=2)) == _stdlib_compact(value)


def test_integers_beyond_64_bits_stay_exact() -> None:
    value = {"id": 123456789012345678901234567890, "low": -9223372036854775809}
    assert minify(json.dumps(value, indent=2)) == _stdlib_compact(value)


def test_documents_nested_deeper_than_orjson_writes_are_still_minified() -> None:
    value: object = [1]
    for _ in range(300):
        value = [value]
    assert minify(json.dumps(value, indent=1)) == _stdlib_compact(value)


def test_escaped_lone_surrogates_in_a_document_stay_escaped() -> None:
    minified = minify('{"name": "half \\ud800 pair", "n": 1}')
    assert minified == '{"name":"half \\ud800 pair","n":1}'


def test_string_literals_are_what_the_standard_library_writes() -> None:
    text = "".join(map(chr, range(0x80))) + "é\u2028\u3042\U0001f600"
    assert dump_string(text) == json.dumps(text, ensure_ascii=False)
