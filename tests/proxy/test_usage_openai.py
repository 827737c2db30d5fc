"""OpenAI usage: chat, completions, responses and embeddings, from JSON bodies and streams."""

from __future__ import annotations

import json
from pathlib import Path

from proxy.sse import Event
from proxy.wire import openai
from requestlog.usage import Usage

STREAMS = Path(__file__).resolve().parents[1] / "data" / "streams"


def body(name: str) -> bytes:
    return (STREAMS / name).read_bytes()


def streamed(data: bytes, content_type: str = "text/event-stream") -> Usage | None:
    observer = openai.stream_observer(content_type)
    assert observer.feed(data) == data
    assert observer.close() == b""
    return observer.usage


def event(data: object) -> Event:
    return Event("message", json.dumps(data), 0, 0)


def test_a_chat_completion_body_reports_prompt_and_completion_tokens() -> None:
    assert openai.usage_from_json(body("openai_chat.json")) == Usage(19, 10, 0, 0)


def test_cached_prompt_tokens_are_billed_as_cache_reads_not_input() -> None:
    usage = {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "prompt_tokens_details": {"cached_tokens": 1920},
    }
    assert openai.usage_from_json(json.dumps({"usage": usage}).encode()) == Usage(86, 300, 1920, 0)


def test_a_deepseek_style_cache_hit_count_is_a_cache_read() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "prompt_cache_hit_tokens": 64,
        "prompt_cache_miss_tokens": 36,
    }
    assert openai.usage_from_json(json.dumps({"usage": usage}).encode()) == Usage(36, 5, 64, 0)


def test_a_responses_body_reports_input_cached_and_output_tokens() -> None:
    assert openai.usage_from_json(body("openai_responses.json")) == Usage(512, 120, 1536, 0)


def test_an_embeddings_body_reports_its_prompt_tokens() -> None:
    assert openai.usage_from_json(body("openai_embeddings.json")) == Usage(8, 0, 0, 0)


def test_a_body_without_usage_reports_none() -> None:
    assert openai.usage_from_json(b'{"object":"list","data":[{"id":"gpt-4o"}]}') is None


def test_a_malformed_body_reports_none() -> None:
    assert openai.usage_from_json(b"<html>bad gateway</html>") is None


def test_counts_that_are_not_numbers_are_read_as_zero() -> None:
    usage = {"prompt_tokens": "12", "completion_tokens": None, "prompt_tokens_details": None}
    assert openai.usage_from_json(json.dumps({"usage": usage}).encode()) == Usage(0, 0, 0, 0)


def test_a_chat_stream_reports_the_usage_of_its_final_chunk() -> None:
    assert streamed(body("openai_chat_include_usage.sse")) == Usage(176, 17, 1024, 0)


def test_a_completions_stream_reports_the_usage_of_its_final_chunk() -> None:
    assert streamed(body("openai_completions_include_usage.sse")) == Usage(5, 7, 0, 0)


def test_a_responses_stream_reports_the_usage_of_response_completed() -> None:
    assert streamed(body("openai_responses.sse")) == Usage(512, 120, 1536, 0)


def test_an_incomplete_response_still_reports_its_usage() -> None:
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 4}
    incomplete = {
        "type": "response.incomplete",
        "response": {"status": "incomplete", "usage": usage},
    }
    assert openai.read_event(event(incomplete), None) == Usage(10, 4, 0, 0)


def test_a_chat_stream_without_a_usage_chunk_reports_none() -> None:
    content = b'data: {"choices":[{"delta":{"content":"prompt_tokens"}}],"usage":null}\n\n'
    assert streamed(content + b"data: [DONE]\n\n") is None


def test_a_json_body_relayed_in_pieces_reports_the_same_usage() -> None:
    assert streamed(body("openai_embeddings.json"), "application/json") == Usage(8, 0, 0, 0)


def test_the_usage_only_chunk_is_recognised() -> None:
    chunk = {"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    assert openai.is_usage_chunk(event(chunk))


def test_a_content_chunk_that_also_carries_usage_is_not_a_usage_only_chunk() -> None:
    chunk = {"choices": [{"delta": {"content": "x"}}], "usage": {"prompt_tokens": 3}}
    assert not openai.is_usage_chunk(event(chunk))


def test_a_content_chunk_with_null_usage_is_not_a_usage_only_chunk() -> None:
    chunk = {"choices": [{"delta": {"content": "prompt_tokens"}}], "usage": None}
    assert not openai.is_usage_chunk(event(chunk))
