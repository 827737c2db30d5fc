"""Gemini usage: generateContent bodies, `?alt=sse` streams and the JSON-array stream."""

from __future__ import annotations

import json
from pathlib import Path

from proxy.wire import gemini
from requestlog.usage import Usage

STREAMS = Path(__file__).resolve().parents[1] / "data" / "streams"
LAST = Usage(input_tokens=104, output_tokens=330, cache_read_tokens=4096)


def body(name: str) -> bytes:
    return (STREAMS / name).read_bytes()


def streamed(data: bytes, content_type: str) -> Usage | None:
    observer = gemini.stream_observer(content_type)
    assert observer.feed(data) == data
    assert observer.close() == b""
    return observer.usage


def metadata(**counts: int) -> bytes:
    return json.dumps({"candidates": [], "usageMetadata": counts}).encode()


def test_a_generate_content_body_counts_thoughts_as_output() -> None:
    assert gemini.usage_from_json(body("gemini_generate.json")) == Usage(11, 29, 0, 0)


def test_cached_content_is_billed_as_cache_reads_not_input() -> None:
    data = metadata(promptTokenCount=5000, cachedContentTokenCount=4096, candidatesTokenCount=7)
    assert gemini.usage_from_json(data) == Usage(904, 7, 4096, 0)


def test_tool_use_prompt_tokens_are_input() -> None:
    data = metadata(promptTokenCount=50, toolUsePromptTokenCount=20, candidatesTokenCount=3)
    assert gemini.usage_from_json(data) == Usage(70, 3, 0, 0)


def test_a_count_tokens_answer_is_not_billed_usage() -> None:
    assert gemini.usage_from_json(b'{"totalTokens": 31, "promptTokensDetails": []}') is None


def test_an_alt_sse_stream_reports_the_last_usage_metadata() -> None:
    assert streamed(body("gemini_alt_sse.sse"), "text/event-stream") == LAST


def test_a_json_array_stream_reports_the_last_usage_metadata() -> None:
    data = body("gemini_stream.json")
    assert streamed(data, "application/json; charset=UTF-8") == LAST


def test_a_whole_json_array_body_reports_the_last_usage_metadata() -> None:
    assert gemini.usage_from_json(body("gemini_stream.json")) == LAST


def test_a_generate_content_body_relayed_in_pieces_reports_the_same_usage() -> None:
    assert streamed(body("gemini_generate.json"), "application/json") == Usage(11, 29, 0, 0)


def test_an_array_element_without_usage_keeps_the_earlier_report() -> None:
    data = b'[{"usageMetadata": {"promptTokenCount": 3}}, {"candidates": []}]'
    assert streamed(data, "application/json") == Usage(3, 0, 0, 0)


ERROR = b'{"error": {"code": 502}}'


def ended(*chunks: bytes) -> bytes:
    """What the client holds when a JSON-array stream breaks off after `chunks`."""
    observer = gemini.stream_observer("application/json")
    sent = b"".join(observer.feed(chunk) for chunk in chunks)
    return sent + observer.interrupt(b"data: " + ERROR + b"\n\n", ERROR)


def test_a_broken_array_stream_ends_with_the_error_element_and_the_bracket() -> None:
    assert json.loads(ended(b'[{"candidates": []}', b"\r\n")) == [
        {"candidates": []},
        {"error": {"code": 502}},
    ]


def test_a_broken_array_stream_after_a_comma_needs_no_second_comma() -> None:
    sent = ended(b'[{"candidates": [{"text": "a,b"}]}', b",\r\n")
    assert json.loads(sent)[-1] == {"error": {"code": 502}}


def test_a_broken_array_stream_before_any_element_is_an_array_of_the_error() -> None:
    assert json.loads(ended(b"[\n")) == [{"error": {"code": 502}}]


def test_a_body_broken_before_its_first_byte_is_the_error_document() -> None:
    assert ended() == ERROR


def test_a_body_broken_inside_an_element_gets_the_error_on_a_line_of_its_own() -> None:
    assert ended(b'[{"candidates": [{"text": "a') == b'[{"candidates": [{"text": "a\n' + ERROR
