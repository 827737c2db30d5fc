"""Anthropic usage: message bodies and message streams (start plus cumulative deltas)."""

from __future__ import annotations

import json
from pathlib import Path

from proxy.sse import Event
from proxy.wire import anthropic
from requestlog.usage import Usage

STREAMS = Path(__file__).resolve().parents[1] / "data" / "streams"


def body(name: str) -> bytes:
    return (STREAMS / name).read_bytes()


def streamed(data: bytes, content_type: str = "text/event-stream") -> Usage | None:
    observer = anthropic.stream_observer(content_type)
    assert observer.feed(data) == data
    assert observer.close() == b""
    return observer.usage


def sse(*events: dict) -> bytes:
    return b"".join(
        f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in events
    )


START = {
    "type": "message_start",
    "message": {
        "type": "message",
        "usage": {
            "input_tokens": 40,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 500,
            "output_tokens": 1,
        },
    },
}


def test_a_message_body_reports_input_output_and_both_cache_counts() -> None:
    assert anthropic.usage_from_json(body("anthropic_message.json")) == Usage(2095, 503, 0, 2051)


def test_a_count_tokens_answer_is_not_billed_usage() -> None:
    assert anthropic.usage_from_json(b'{"input_tokens": 2095}') is None


def test_a_batch_object_reports_no_usage() -> None:
    batch = {"id": "msgbatch_01", "type": "message_batch", "processing_status": "in_progress"}
    assert anthropic.usage_from_json(json.dumps(batch).encode()) is None


def test_a_message_stream_combines_message_start_with_the_last_delta() -> None:
    assert streamed(body("anthropic_messages.sse")) == Usage(25, 15, 3000, 1200)


def test_deltas_are_running_totals_not_increments() -> None:
    deltas = [{"type": "message_delta", "usage": {"output_tokens": n}} for n in (5, 9, 30)]
    assert streamed(sse(START, *deltas)) == Usage(40, 30, 500, 0)


def test_a_delta_that_reports_input_and_cache_counts_replaces_them() -> None:
    # With server tools, message_delta carries cumulative input and cache counts too.
    delta = {
        "type": "message_delta",
        "usage": {
            "input_tokens": 90,
            "cache_creation_input_tokens": None,
            "cache_read_input_tokens": 800,
            "output_tokens": 60,
        },
    }
    assert streamed(sse(START, delta)) == Usage(90, 60, 800, 0)


def test_a_stream_cut_after_message_start_still_reports_the_input_side() -> None:
    assert streamed(sse(START)) == Usage(40, 1, 500, 0)


def test_a_stream_without_usage_reports_none() -> None:
    assert streamed(sse({"type": "ping"}, {"type": "message_stop"})) is None


def test_a_text_delta_mentioning_usage_changes_nothing() -> None:
    text = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": '"usage"'}}
    assert anthropic.read_event(Event("x", json.dumps(text), 0, 0), Usage(1, 2)) == Usage(1, 2)


def test_a_message_body_relayed_in_pieces_reports_the_same_usage() -> None:
    data = body("anthropic_message.json")
    assert streamed(data, "application/json") == Usage(2095, 503, 0, 2051)
