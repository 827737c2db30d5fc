"""Relaying a streamed upstream body to the client, chunk by chunk, and closing it exactly once.

Django's ASGI handler closes the iterator when the client goes away; the `finally:` then closes
the upstream response at once and finishes the exchange. A relay Django never started (the client
left between the view and the first byte) is cleaned up through `close()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from proxy.errors import from_httpx, stream_error_event
from proxy.exchange import Exchange


class Relay:
    def __init__(self, reply: httpx.Response, exchange: Exchange, family: str) -> None:
        self.reply = reply
        self.exchange = exchange
        self.family = family
        self.started = False
        self.loop = asyncio.get_running_loop()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._run()

    async def _run(self) -> AsyncIterator[bytes]:
        self.started = True
        exchange = self.exchange
        try:
            async for chunk in self.reply.aiter_raw():
                exchange.mark_first_byte()
                yield chunk
        except httpx.HTTPError as exc:
            # The status line is gone already: the failure becomes one error event (SPEC §6).
            error = from_httpx(exc)
            exchange.fail(error)
            yield stream_error_event(self.family, error)
        except (asyncio.CancelledError, GeneratorExit):
            exchange.disconnected = True
            raise
        finally:
            await self.reply.aclose()
            exchange.finish()

    def close(self) -> None:
        """Called by Django (in a worker thread) once the response is done or abandoned."""
        if not self.started:
            self.exchange.disconnected = True
            self.loop.call_soon_threadsafe(self._abandon)

    def _abandon(self) -> None:
        self.loop.create_task(self.reply.aclose())
        self.exchange.finish()
