"""Relaying a streamed upstream body to the client, chunk by chunk, and closing it exactly once.

Each chunk passes the family's usage observer on its way, which reads billed usage without
changing it. Django's ASGI handler closes the iterator when the client goes away; the `finally:`
then records the usage read so far, closes the upstream response at once and hands the
exchange to `on_finish`. A relay Django never started (the client left between the view and the
first byte) is cleaned up through `close()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
from django.conf import settings

from proxy import upstream, wire
from proxy.errors import (
    GatewayError,
    ResponseTooLarge,
    StreamIdle,
    StreamIncomplete,
    from_httpx,
    stream_error_forms,
)
from proxy.exchange import Exchange
from proxy.responsecache import Recorder
from proxy.usage import Observer

SHUTTING_DOWN = GatewayError(
    503, "the gateway is restarting; retry the request", "gateway_shutdown"
)


def observer_for(reply: httpx.Response, family: str, hide_usage_chunk: bool) -> Observer:
    """Only a successful body, sent as plain bytes, carries usage the gateway can read."""
    encoding = reply.headers.get("content-encoding", "identity").strip().lower()
    if not reply.is_success or encoding not in ("", "identity"):
        return Observer()
    content_type = reply.headers.get("content-type", "")
    return wire.get(family).stream_observer(content_type, hide_usage_chunk)


async def within(chunks: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    """The chunks, failing with StreamIdle when the next one takes longer than `seconds`."""
    while True:
        try:
            async with asyncio.timeout(seconds):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise StreamIdle(f"no chunk for {seconds} s") from None
        yield chunk


# Relays streaming right now, so a graceful stop can end them with an error event.
_live: set[Relay] = set()


def end_all() -> int:
    """End every stream in flight with the gateway's shutdown error; returns how many."""
    relays = list(_live)
    for live in relays:
        live.end_for_shutdown()
    return len(relays)


class Relay:
    def __init__(
        self,
        reply: httpx.Response,
        exchange: Exchange,
        family: str,
        hide_usage_chunk: bool = False,
        recorder: Recorder | None = None,
        on_finish: Callable[[Exchange], object] = Exchange.finish,
    ) -> None:
        self.reply = reply
        self.exchange = exchange
        self.family = family
        self.observer = observer_for(reply, family, hide_usage_chunk)
        # Keeps what the client receives for the response cache; only a body relayed to its
        # end is stored, never one that failed or was abandoned.
        self.recorder = recorder
        # Handed the exchange once the body is done or abandoned (the view's log hand-off).
        self.on_finish = on_finish
        self.started = False
        self.ending = False  # ended by a graceful stop
        self.loop = asyncio.get_running_loop()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._run()

    async def _run(self) -> AsyncIterator[bytes]:
        self.started = True
        exchange, observer = self.exchange, self.observer
        _live.add(self)
        try:
            chunks = self.reply.aiter_raw()
            if exchange.idle_timeout:
                chunks = within(chunks, exchange.idle_timeout)
            limit, size = settings.HEADROOM_MAX_RESPONSE_BYTES, 0
            async for chunk in chunks:
                exchange.mark_first_byte()
                size += len(chunk)
                if limit and size > limit:
                    raise ResponseTooLarge(f"more than {limit} bytes")
                passed = observer.feed(chunk)
                if passed:
                    self._record(passed)
                if observer.finished:
                    # Stored before the client sees the final event: an SDK closes and asks
                    # again at once, and that request must find the answer.
                    await self._complete()
                if passed:
                    yield passed
            tail = observer.close()
            if tail:
                self._record(tail)
                yield tail
            if observer.incomplete:
                raise StreamIncomplete("no final event")
            await self._complete()
        except httpx.HTTPError as exc:
            # The status line is gone already: the failure becomes one error event (SPEC §6).
            error = SHUTTING_DOWN if self.ending else from_httpx(exc)
            exchange.fail(error)
            yield observer.interrupt(*stream_error_forms(self.family, error))
        except (asyncio.CancelledError, GeneratorExit):
            # A client that closes once it has the final event, as the SDKs do, has its whole
            # answer, whatever the upstream still had to send: no disconnect.
            exchange.disconnected = not observer.finished
            raise
        finally:
            _live.discard(self)
            exchange.usage = observer.usage
            await self.reply.aclose()
            self.on_finish(exchange)

    def end_for_shutdown(self) -> None:
        """Break off the upstream body; the relay then sends the shutdown error event."""
        self.ending = True
        upstream.abort(self.reply)

    async def _complete(self) -> None:
        """Store the relayed answer in the response cache, once."""
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            await recorder.complete(self.observer.usage)

    def _record(self, chunk: bytes) -> None:
        if self.recorder is not None:
            self.recorder.add(chunk)

    def close(self) -> None:
        """Called by Django (in a worker thread) once the response is done or abandoned."""
        if not self.started:
            self.exchange.disconnected = True
            self.loop.call_soon_threadsafe(self._abandon)

    def _abandon(self) -> None:
        self.loop.create_task(self.reply.aclose())
        self.on_finish(self.exchange)
