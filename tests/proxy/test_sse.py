"""The incremental SSE reader: events across any chunk boundary, bounded memory, byte offsets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.sse import Event, SSEReader

STREAM = (
    "event: greeting\n"
    "data: héllo — 日本語 🙂\n"
    "\n"
    ": a comment line\n"
    "data: first line\n"
    "data: second line\n"
    "id: 7\n"
    "retry: 1000\n"
    "\n"
    "data:no space after the colon\n"
    "\n"
    "\n"
    "event: done\n"
    "data: [DONE]\n"
    "\n"
)
EXPECTED = [
    ("greeting", "héllo — 日本語 🙂"),
    ("message", "first line\nsecond line"),
    ("message", "no space after the colon"),
    ("done", "[DONE]"),
]


def read_all(chunks: list[bytes], limit: int = 1024 * 1024) -> list[Event]:
    reader = SSEReader(limit)
    events = []
    for chunk in chunks:
        events += reader.feed(chunk)
    return events + reader.close()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


def named(events: list[Event]) -> list[tuple[str, str]]:
    return [(event.name, event.data) for event in events]


def test_it_reads_names_and_multi_line_data_from_a_whole_stream() -> None:
    assert named(read_all([STREAM.encode()])) == EXPECTED


def test_it_reads_a_stream_fed_one_byte_at_a_time() -> None:
    data = STREAM.encode()
    assert named(read_all([data[i : i + 1] for i in range(len(data))])) == EXPECTED


def test_it_treats_crlf_split_between_chunks_as_one_line_end() -> None:
    events = read_all([b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"])
    assert named(events) == [("message", "a"), ("message", "b")]


def test_it_ends_a_line_at_a_lone_carriage_return() -> None:
    events = read_all([b"data: a\r", b"\r", b"data: b\r\r"])
    assert named(events) == [("message", "a"), ("message", "b")]


def test_an_event_ends_only_at_a_blank_line() -> None:
    reader = SSEReader()
    assert reader.feed(b"data: a\n") == []
    assert named(reader.feed(b"\n")) == [("message", "a")]


def test_a_block_without_data_is_not_an_event() -> None:
    assert read_all([b"event: ping\n\n: keep-alive\n\nid: 3\n\n"]) == []


def test_an_unterminated_last_event_still_counts_at_the_end_of_the_stream() -> None:
    assert named(read_all([b"data: a\n\ndata: last"])) == [("message", "a"), ("message", "last")]


def test_events_carry_their_byte_offsets_in_the_stream() -> None:
    data = b": hi\n\ndata: a\r\n\r\nevent: x\ndata: b\n\n"
    events = read_all([data[:9], data[9:20], data[20:]])
    assert [data[event.start : event.end] for event in events] == [
        b"data: a\r\n\r\n",
        b"event: x\ndata: b\n\n",
    ]


def test_an_event_larger_than_the_limit_is_skipped_and_the_next_one_read() -> None:
    big = b"data: " + b"x" * 200 + b"\n\n"
    events = read_all([b"data: a\n\n", big[:50], big[50:], b"data: b\n\n"], limit=100)
    assert named(events) == [("message", "a"), ("message", "b")]


def test_an_event_of_many_small_lines_over_the_limit_is_skipped() -> None:
    many = b"".join(b"data: 0123456789\n" for _ in range(20)) + b"\n"
    events = read_all([many, b"data: b\n\n"], limit=100)
    assert named(events) == [("message", "b")]


def test_memory_stays_bounded_by_the_limit_while_an_endless_line_arrives() -> None:
    reader = SSEReader(limit=100)
    reader.feed(b"data: ")
    for _ in range(50):
        reader.feed(b"y" * 64)
        assert len(reader._pending) <= 100
    assert named(reader.feed(b"\n\ndata: b\n\n")) == [("message", "b")]


def test_the_reader_is_idle_only_between_events() -> None:
    reader = SSEReader()
    reader.feed(b"data: a\n")
    assert not reader.idle
    reader.feed(b"\n")
    assert reader.idle
    reader.feed(b"da")
    assert not reader.idle


@st.composite
def line_ends(draw: st.DrawFn) -> bytes:
    """The test stream with every line end drawn from the three the format allows.

    A `\r` followed by an empty line ended by `\n` would read as one `\r\n`, so that one
    combination is not drawn.
    """
    out = b""
    for line in STREAM.encode().split(b"\n")[:-1]:
        ends = [b"\r\n", b"\r"] if not line and out.endswith(b"\r") else [b"\n", b"\r\n", b"\r"]
        out += line + draw(st.sampled_from(ends))
    return out


@settings(max_examples=300)
@given(data=line_ends(), cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_any_chunking_and_any_line_ends_give_the_same_events(data: bytes, cuts: list[int]) -> None:
    events = read_all(split(data, cuts))
    assert named(events) == EXPECTED
    assert [event.start for event in events] == [event.start for event in read_all([data])]
    assert [event.end for event in events] == [event.end for event in read_all([data])]
