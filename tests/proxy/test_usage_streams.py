"""Property: recorded-shape streams split at random boundaries give the same usage, and the
client receives the same bytes (less the one usage chunk the gateway itself asked for)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy import wire
from requestlog.usage import Usage

STREAMS = Path(__file__).resolve().parents[1] / "data" / "streams"
SSE = "text/event-stream"
JSON = "application/json"

RECORDED = [
    ("openai", "openai_chat_include_usage.sse", SSE, Usage(176, 17, 1024, 0)),
    ("openai", "openai_completions_include_usage.sse", SSE, Usage(5, 7, 0, 0)),
    ("openai", "openai_responses.sse", SSE, Usage(512, 120, 1536, 0)),
    ("anthropic", "anthropic_messages.sse", SSE, Usage(25, 15, 3000, 1200)),
    ("gemini", "gemini_alt_sse.sse", SSE, Usage(104, 330, 4096, 0)),
    ("gemini", "gemini_stream.json", "application/json; charset=UTF-8", Usage(104, 330, 4096, 0)),
    ("openai", "openai_chat.json", JSON, Usage(19, 10, 0, 0)),
    ("openai", "openai_responses.json", JSON, Usage(512, 120, 1536, 0)),
    ("openai", "openai_embeddings.json", JSON, Usage(8, 0, 0, 0)),
    ("anthropic", "anthropic_message.json", JSON, Usage(2095, 503, 0, 2051)),
    ("gemini", "gemini_generate.json", JSON, Usage(11, 29, 0, 0)),
]
HIDDEN = ["openai_chat_include_usage.sse", "openai_completions_include_usage.sse"]
CUTS = st.lists(st.integers(min_value=0), max_size=25)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


def relay(family: str, content_type: str, chunks: list[bytes], hide: bool) -> tuple[bytes, Usage]:
    observer = wire.get(family).stream_observer(content_type, hide)
    sent = b"".join(observer.feed(chunk) for chunk in chunks) + observer.close()
    return sent, observer.usage


def with_line_end(data: bytes, line_end: bytes) -> bytes:
    return data.replace(b"\n", line_end)


def without_usage_chunk(data: bytes, line_end: bytes) -> bytes:
    separator = line_end * 2
    events = data.split(separator)
    kept = [event for event in events if b'"choices":[],"usage":{' not in event]
    assert len(kept) == len(events) - 1
    return separator.join(kept)


@pytest.mark.parametrize(("family", "name", "content_type", "usage"), RECORDED)
def test_the_whole_body_in_one_chunk_gives_the_recorded_usage(
    family: str, name: str, content_type: str, usage: Usage
) -> None:
    data = (STREAMS / name).read_bytes()
    assert relay(family, content_type, [data], hide=False) == (data, usage)


@pytest.mark.parametrize(("family", "name", "content_type", "usage"), RECORDED)
@settings(max_examples=60, deadline=None)
@given(cuts=CUTS)
def test_any_split_gives_the_same_usage_and_the_same_client_bytes(
    family: str, name: str, content_type: str, usage: Usage, cuts: list[int]
) -> None:
    data = (STREAMS / name).read_bytes()
    assert relay(family, content_type, split(data, cuts), hide=False) == (data, usage)


@pytest.mark.parametrize(("family", "name", "content_type", "usage"), RECORDED[:5])
@settings(max_examples=40, deadline=None)
@given(cuts=CUTS, line_end=st.sampled_from([b"\r\n", b"\r"]))
def test_any_split_of_a_stream_with_other_line_ends_gives_the_same_usage(
    family: str, name: str, content_type: str, usage: Usage, cuts: list[int], line_end: bytes
) -> None:
    data = with_line_end((STREAMS / name).read_bytes().replace(b"\r\n", b"\n"), line_end)
    assert relay(family, content_type, split(data, cuts), hide=False) == (data, usage)


@pytest.mark.parametrize("name", HIDDEN)
@settings(max_examples=80, deadline=None)
@given(cuts=CUTS, line_end=st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_any_split_hides_exactly_the_usage_chunk_the_gateway_asked_for(
    name: str, cuts: list[int], line_end: bytes
) -> None:
    data = with_line_end((STREAMS / name).read_bytes(), line_end)
    expected = without_usage_chunk(data, line_end)
    sent, usage = relay("openai", SSE, split(data, cuts), hide=True)
    assert sent == expected
    assert usage == relay("openai", SSE, [data], hide=False)[1]
    assert sent.endswith(b"data: [DONE]" + line_end * 2)
