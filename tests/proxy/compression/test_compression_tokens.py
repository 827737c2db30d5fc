"""The offline token estimator: deterministic, and valuing text the way tokenizers do."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.compression import tokens


def test_an_empty_body_has_no_tokens() -> None:
    assert tokens.count(b"") == 0


def test_a_common_english_sentence_is_about_one_token_per_word() -> None:
    sentence = b"The invoice total does not include the tax for this country yet."
    assert 10 <= tokens.count(sentence) <= 20


def test_digits_cost_more_per_byte_than_letters() -> None:
    assert tokens.estimate(b"1234567890") > tokens.estimate(b"abcdefghij")


def test_indentation_costs_far_less_than_its_byte_count() -> None:
    assert tokens.estimate(b"\n" + b" " * 16) < 3


def test_pretty_printed_json_costs_more_than_the_same_json_minified() -> None:
    value = [{"id": i, "name": f"user {i}", "active": True} for i in range(50)]
    pretty = json.dumps(value, indent=2).encode()
    compact = json.dumps(value, separators=(",", ":")).encode()
    assert tokens.estimate(compact) < 0.9 * tokens.estimate(pretty)


def test_a_json_escaped_newline_counts_as_a_newline() -> None:
    assert tokens.estimate(b'"a\\nb"') == pytest.approx(tokens.estimate(b'"a\nb"'))


def test_an_escaped_quote_counts_as_one_quote() -> None:
    assert tokens.estimate(b'"say \\"hi\\""') == pytest.approx(tokens.estimate(b'"say "hi""'))


def test_non_ascii_text_is_counted() -> None:
    assert tokens.count("請求書の合計".encode()) >= 6


@settings(deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_more_bytes_never_mean_fewer_tokens(left: bytes, right: bytes) -> None:
    # Only the escape adjustments subtract, and never more than the bytes they stand in for.
    assert tokens.estimate(left + right) >= tokens.estimate(left) - 1e-9


@given(parts=st.lists(st.binary(max_size=40), min_size=1, max_size=6))
def test_tallies_add_up_over_concatenated_text(parts: list[bytes]) -> None:
    # What the engine relies on to count only the values it replaced, when no `\\` escape is cut.
    if any(part.endswith(b"\\") for part in parts):
        return
    whole = tokens.ZERO
    for part in parts:
        whole = tokens.combine(whole, tokens.ZERO, tokens.tally(part))
    assert whole == tokens.tally(b"".join(parts))
    assert tokens.weigh(whole) == pytest.approx(tokens.estimate(b"".join(parts)))
