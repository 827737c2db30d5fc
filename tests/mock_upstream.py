"""A real HTTP/1.1 upstream on 127.0.0.1 for end-to-end tests, scripted per test.

It records every request (method, path, query, headers, body) and answers with a `Reply`: JSON,
SSE chunks with scripted delays, an error, a redirect, or a hang. It notices when the gateway
closes the connection while a reply is unfinished.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # Streamed replies: (delay in seconds before the chunk, chunk), sent with chunked encoding.
    chunks: list[tuple[float, bytes]] | None = None
    hang: bool = False  # never answer (for timeouts)
    # Misbehaviour: close without a status line, send `raw` bytes verbatim instead of a
    # well-formed answer, and end with a TCP reset instead of a clean end (after chunks or raw).
    close: bool = False
    raw: bytes | None = None
    reset: bool = False

    @classmethod
    def json(cls, data: object, status: int = 200, headers: list | None = None) -> Reply:
        body = json.dumps(data).encode()
        return cls(status, [("content-type", "application/json"), *(headers or [])], body)

    @classmethod
    def sse(cls, events: list[bytes], delays: list[float] | None = None) -> Reply:
        delays = delays or [0.0] * len(events)
        headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
        return cls(200, headers, chunks=list(zip(delays, events, strict=True)))


def default_reply(request: Recorded) -> Reply:
    return Reply.json({"ok": True, "path": request.path})


class MockUpstream:
    """One upstream server running on its own event loop in a background thread."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        # When the gateway closed the connection while a reply was unfinished (streaming,
        # hanging, or half sent).
        self.disconnects: list[float] = []
        self.open_connections = 0  # connections from the gateway not yet closed
        self.handler: Callable[[Recorded], Reply] = default_reply
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="mock-upstream")
        self._thread.start()
        self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.requests.clear()
        self.disconnects.clear()
        self.handler = default_reply

    def reply_with(self, reply: Reply | Callable[[Recorded], Reply]) -> None:
        self.handler = reply if callable(reply) else (lambda _request: reply)

    def wait_for_disconnect(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.disconnects and time.monotonic() < deadline:
            time.sleep(0.01)
        return bool(self.disconnects)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, limit=64 * 1024 * 1024)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def wait_for_no_connections(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.open_connections == 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        try:
            await self._serve_requests(reader, writer)
        finally:
            self.open_connections -= 1

    async def _serve_requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                self.requests.append(request)
                reply = self.handler(request)
                if not await self._answer(reply, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(
        self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        if reply.hang:
            await reader.read()  # until the client gives up
            self.disconnects.append(time.monotonic())
            return False
        if reply.close:
            return False
        if reply.raw is not None:
            writer.write(reply.raw)
            await writer.drain()
            if reply.reset:
                _reset(writer)
            else:
                await reader.read()  # an answer that never completes, until the client leaves
                self.disconnects.append(time.monotonic())
            return False
        head = [f"HTTP/1.1 {reply.status} X"]
        head += [f"{name}: {value}" for name, value in reply.headers]
        if reply.chunks is None:
            head.append(f"content-length: {len(reply.body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply.body)
            try:
                await writer.drain()
            except ConnectionError:
                # A large body the gateway stopped reading and closed.
                self.disconnects.append(time.monotonic())
                raise
            return True
        head.append("transfer-encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        return await self._stream(reply.chunks, reader, writer, reset=reply.reset)

    async def _stream(
        self,
        chunks: list[tuple[float, bytes]],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        reset: bool = False,
    ) -> bool:
        # A read that returns b"" while we are still streaming means the client went away.
        gone = asyncio.ensure_future(reader.read(1))
        try:
            for delay, chunk in chunks:
                if delay:
                    await asyncio.wait([gone], timeout=delay)
                if gone.done():
                    self.disconnects.append(time.monotonic())
                    return False
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        except ConnectionError:
            # Closed by the gateway while a write waited for it to read.
            self.disconnects.append(time.monotonic())
            return False
        finally:
            # The watch on the client ends here: once the client has the whole answer it may
            # send its next request, which only the next _read_request may read. Awaited, so
            # asyncio does not report an error it saw as never retrieved.
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await gone
        if reset:
            _reset(writer)
            return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


async def _read_request(reader: asyncio.StreamReader) -> Recorded | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    path, _, query = target.partition("?")
    length = int(dict(headers).get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Recorded(method, path, query, headers, body)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a TCP reset (SO_LINGER 0), as a crashing upstream would."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
