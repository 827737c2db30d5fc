"""The observers that read billed usage from a response as it passes to the client.

The families' protocol modules know where their usage is; the observers here do the framing:
server-sent events (`proxy.sse`) or one JSON document arriving in pieces (`proxy.jsonbody`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from proxy.jsonbody import Children
from proxy.sse import DEFAULT_LIMIT, Event, SSEReader
from requestlog.usage import Usage

# How a family reads one event or one collected JSON member, given the usage read so far.
ReadEvent = Callable[[Event, Usage | None], Usage | None]
ReadMember = Callable[[str | None, bytes, Usage | None], Usage | None]
IsFinal = Callable[[Event], bool]


def count(mapping: Any, key: str) -> int:
    """A token count from a provider's usage object; 0 when absent, null or not a count."""
    if not isinstance(mapping, dict):
        return 0
    value = mapping.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def load(text: str | bytes) -> Any:
    """Parsed JSON, or None: an upstream's malformed body must never break the relay."""
    try:
        return json.loads(text)
    except ValueError:
        return None


class Observer:
    """Watches a response body pass on its way to the client; this one reads nothing."""

    usage: Usage | None = None
    # The stream's final event (openai `[DONE]`, anthropic `message_stop`) has passed: a client
    # that leaves now has its whole answer, as the SDKs do once they read it.
    finished: bool = False

    def feed(self, chunk: bytes) -> bytes:
        """The bytes to send the client for this chunk."""
        return chunk

    @property
    def incomplete(self) -> bool:
        """The body ended without the final event its stream format promises."""
        return False

    def close(self) -> bytes:
        """End of the body: any bytes still to send."""
        return b""

    def interrupt(self, event: bytes, document: bytes) -> bytes:
        """The body broke off: the bytes that end it with the gateway's error, which comes as a
        server-sent `event` and as a JSON `document`; this body's framing picks one.
        """
        return event


class EventObserver(Observer):
    """Reads usage from server-sent events; the client's bytes pass untouched."""

    def __init__(
        self, read: ReadEvent, limit: int = DEFAULT_LIMIT, final: IsFinal | None = None
    ) -> None:
        self.reader = SSEReader(limit)
        self.read = read
        self.final = final
        self.usage = None

    def feed(self, chunk: bytes) -> bytes:
        for event in self.reader.feed(chunk):
            self._see(event)
        return chunk

    def close(self) -> bytes:
        for event in self.reader.close():
            self._see(event)
        return b""

    @property
    def incomplete(self) -> bool:
        return self.final is not None and not self.finished

    def _see(self, event: Event) -> None:
        self.usage = self.read(event, self.usage)
        if self.final is not None and self.final(event):
            self.finished = True

    def interrupt(self, event: bytes, document: bytes) -> bytes:
        # The client may hold part of an event; a blank line ends it so the error event that
        # follows is read as an event of its own.
        return event if self.reader.idle else b"\n\n" + event


class FilteringEventObserver(EventObserver):
    """Reads usage like EventObserver and also removes the events `drop` picks.

    Whether an event is dropped is known only once it is complete, so the bytes of an unfinished
    event wait for its end (upstreams send whole events, so this rarely delays anything). An
    event larger than the reader's limit is never dropped and is released as it arrives.
    """

    def __init__(
        self,
        read: ReadEvent,
        drop: Callable[[Event], bool],
        limit: int = DEFAULT_LIMIT,
        final: IsFinal | None = None,
    ) -> None:
        super().__init__(read, limit, final)
        self.drop = drop
        self._held = b""  # received, not yet sent: the start of an unfinished event
        self._held_at = 0  # stream offset of _held[0]

    def feed(self, chunk: bytes) -> bytes:
        events = self.reader.feed(chunk)
        return self._release(self._held + chunk if self._held else chunk, events, final=False)

    def close(self) -> bytes:
        return self._release(self._held, self.reader.close(), final=True)

    def interrupt(self, event: bytes, document: bytes) -> bytes:
        # A held event never reaches the client, which is then at an event boundary; only an
        # oversized event, already released in part, needs ending.
        released_part = not self._held and not self.reader.idle
        self._held = b""
        return b"\n\n" + event if released_part else event

    def _release(self, data: bytes, events: list[Event], *, final: bool) -> bytes:
        base = self._held_at
        parts = []
        cursor = 0
        for event in events:
            self._see(event)
            if event.start >= base and self.drop(event):
                parts.append(data[cursor : event.start - base])
                cursor = event.end - base
        keep = len(data)
        open_at = self.reader.open_from - base
        if not final and open_at >= 0 and len(data) - open_at <= self.reader.limit:
            keep = max(open_at, cursor)
        parts.append(data[cursor:keep])
        self._held = data[keep:]
        self._held_at = base + keep
        return parts[0] if len(parts) == 1 else b"".join(parts)


_TAIL = 64


class JsonObserver(Observer):
    """Reads usage from a JSON body (or a streamed JSON array) as it passes, untouched."""

    def __init__(self, keys: Collection[str], read: ReadMember, limit: int = DEFAULT_LIMIT) -> None:
        self.children = Children(keys, limit)
        self.read = read
        self.usage = None
        self._tail = b""  # the last bytes passed, to see whether an array element just ended

    def feed(self, chunk: bytes) -> bytes:
        for key, raw in self.children.feed(chunk):
            self.usage = self.read(key, raw, self.usage)
        tail = chunk[-_TAIL:]
        self._tail = tail if tail.strip() else (self._tail + tail)[-_TAIL:]
        return chunk

    def interrupt(self, event: bytes, document: bytes) -> bytes:
        """A streamed JSON array (Gemini without `?alt=sse`) gets the error as its last element
        and its closing bracket, so the client still reads a whole array. Nothing sent yet: the
        error document alone. Cut inside an element or an object, no ending can make the body
        valid JSON; the error document follows on a line of its own for whoever reads it.
        """
        children = self.children
        if not children.opened:
            return document
        if children.between_elements:
            last = self._tail.rstrip()[-1:]
            return (b"" if last in (b"[", b",") else b",") + document + b"]"
        return b"\n" + document


def observer(
    content_type: str,
    *,
    read_event: ReadEvent,
    read_member: ReadMember,
    keys: Collection[str],
    drop: Callable[[Event], bool] | None = None,
    final: IsFinal | None = None,
) -> Observer:
    """The observer for a response body of this content type."""
    media = content_type.partition(";")[0].strip().lower()
    if media == "text/event-stream":
        if drop is not None:
            return FilteringEventObserver(read_event, drop, final=final)
        return EventObserver(read_event, final=final)
    if media == "application/json" or media.endswith("+json"):
        return JsonObserver(keys, read_member)
    return Observer()
