"""Rewriting one member of a raw JSON body: every other byte stays as the client sent it."""

from __future__ import annotations

from proxy import jsonbody


def test_the_model_is_replaced_and_non_ascii_text_around_it_is_kept_byte_for_byte() -> None:
    body = '{"messages":[{"content":"héllo \\u00e9 ✓"}], "model" : "acme:gpt-5", "n":1}'.encode()
    rewritten = jsonbody.replace_top_level_string(body, "model", "gpt-5")
    assert (
        rewritten
        == '{"messages":[{"content":"héllo \\u00e9 ✓"}], "model" : "gpt-5", "n":1}'.encode()
    )


def test_a_model_sent_twice_is_replaced_in_both_places() -> None:
    body = b'{"model":"a:x","stream":true,"model":"a:y"}'
    assert jsonbody.replace_top_level_string(body, "model", "y") == (
        b'{"model":"y","stream":true,"model":"y"}'
    )


def test_a_nested_model_member_is_left_alone() -> None:
    body = b'{"metadata":{"model":"keep"},"model":"a:x"}'
    assert jsonbody.replace_top_level_string(body, "model", "x") == (
        b'{"metadata":{"model":"keep"},"model":"x"}'
    )


def test_a_member_is_set_inside_an_existing_object_after_multibyte_text() -> None:
    body = '{"é":"ü","stream_options":{"other":1}}'.encode()
    assert jsonbody.set_member(body, ["stream_options", "include_usage"], b"true") == (
        '{"é":"ü","stream_options":{"other":1,"include_usage":true}}'.encode()
    )
