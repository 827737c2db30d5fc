"""Reading server-sent events from a byte stream that arrives in arbitrary pieces.

The reader only observes: it never changes the bytes the client receives. It keeps at most one
unfinished event, capped at `limit` bytes; a larger event is skipped rather than buffered.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LIMIT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event; `start` and `end` are its byte offsets in the whole stream."""

    name: str
    data: str
    start: int
    end: int


class SSEReader:
    """Feed it chunks; it returns the events each chunk completes (WHATWG SSE parsing rules)."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        # An unfinished line. A trailing `\r` stays here until the next byte shows whether a
        # `\n` completes it, so a `\r\n` split across chunks is one line end, not two.
        self._pending = bytearray()
        self._offset = 0  # stream offset of _pending[0]
        self._start: int | None = None  # stream offset of the open event's first line
        self._name = b""
        self._data: list[bytes] = []
        self._size = 0
        self._oversized = False
        self._dropping_line = False  # the tail of an over-long line is still to come

    @property
    def open_from(self) -> int:
        """Stream offset of the first byte that belongs to no dispatched event yet."""
        return self._offset if self._start is None else self._start

    @property
    def idle(self) -> bool:
        """True between events: every byte fed so far belongs to a finished event."""
        return self._start is None and not self._pending

    def feed(self, chunk: bytes) -> list[Event]:
        if not chunk:
            return []
        cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r", 0, len(chunk) - 1)) + 1
        if cut:
            complete = bytes(self._pending) + chunk[:cut] if self._pending else chunk[:cut]
            rest = chunk[cut:]
        elif self._pending.endswith(b"\r"):
            # The held `\r` is not followed by `\n`: it ended its line on its own.
            complete, rest = bytes(self._pending), chunk
        else:
            self._pending += chunk
            self._bound_pending()
            return []
        events = self._lines(complete)
        self._pending = bytearray(rest)
        self._bound_pending()
        return events

    def close(self) -> list[Event]:
        """End of stream. An unterminated last event still counts: it was sent, and billed."""
        pending = bytes(self._pending)
        self._pending.clear()
        if pending.endswith(b"\r"):
            events = self._lines(pending)
        else:
            last = self._line(pending, self._offset, self._offset + len(pending))
            events = [last] if last else []
            self._offset += len(pending)
        if self._start is not None and self._data and not self._oversized:
            events.append(self._dispatch(self._offset))
        self._reset()
        return events

    def _lines(self, complete: bytes) -> list[Event]:
        events = []
        position = self._offset
        for line in complete.splitlines(keepends=True):
            end = position + len(line)
            event = self._line(line.rstrip(b"\r\n"), position, end)
            if event is not None:
                events.append(event)
            position = end
        self._offset = position
        return events

    def _line(self, content: bytes, start: int, end: int) -> Event | None:
        """One line without its terminator; a blank line ends the open event at `end`."""
        if self._dropping_line:
            self._dropping_line = False
            return None
        if content:
            if self._start is None:
                self._start = start
            self._field(content)
            return None
        event = None
        if self._start is not None and self._data and not self._oversized:
            event = self._dispatch(end)
        self._reset()
        return event

    def _field(self, line: bytes) -> None:
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._size += len(value) + 1
            if self._size > self.limit:
                self._oversized = True
                self._data.clear()
            elif not self._oversized:
                self._data.append(value)
        elif name == b"event":
            self._name = value

    def _dispatch(self, end: int) -> Event:
        return Event(
            name=self._name.decode("utf-8", "replace") or "message",
            data=b"\n".join(self._data).decode("utf-8", "replace"),
            start=self._start if self._start is not None else end,
            end=end,
        )

    def _reset(self) -> None:
        self._start = None
        self._name = b""
        self._data = []
        self._size = 0
        self._oversized = False

    def _bound_pending(self) -> None:
        """Drop an unfinished line longer than the limit; its event is skipped."""
        if len(self._pending) <= self.limit:
            return
        # A trailing `\r` is kept: it may be the line end, and must still pair with a `\n`.
        keep = 1 if self._pending.endswith(b"\r") else 0
        dropped = len(self._pending) - keep
        if self._start is None:
            self._start = self._offset
        self._offset += dropped
        del self._pending[:dropped]
        self._oversized = True
        self._data.clear()
        self._dropping_line = True
