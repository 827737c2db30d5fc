"""Backpressure from a client's socket to the upstream read: a streamed answer's next chunk is
taken from the upstream only once the client's connection has room for it.

Daphne writes every body message straight into Twisted's send buffer and returns, so a client
reading slowly would make the gateway hold a fast upstream's whole answer in memory. `Server`
registers a push producer on each streamed response; Twisted pauses it when the connection's
buffer is full and resumes it when the buffer has drained, and the application's `send` waits
while it is paused. The relay then stops reading the upstream, and TCP slows the upstream down.
"""

from __future__ import annotations

import asyncio
from typing import Any

import daphne.server
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer


@implementer(IPushProducer)
class Gate:
    """Open while the client's connection takes more data; Twisted opens and closes it."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()

    def pauseProducing(self) -> None:
        self.open.clear()

    def resumeProducing(self) -> None:
        self.open.set()

    def stopProducing(self) -> None:
        # The connection is going away: nothing waits on it any more.
        self.open.set()


class Server(daphne.server.Server):  # type: ignore[misc]
    async def handle_reply(self, protocol: Any, message: dict[str, Any]) -> None:
        """Send as Daphne does; after a body chunk with more to come, wait for the client."""
        if message["type"] != "http.response.body":
            await super().handle_reply(protocol, message)
            return
        more = message.get("more_body", False)
        gate: Gate | None = protocol.__dict__.get("backpressure")
        if more and gate is None and writable(protocol):
            gate = protocol.backpressure = Gate()
            protocol.registerProducer(gate, True)
        elif not more and gate is not None and writable(protocol):
            # Twisted insists that a finished response has no producer left.
            protocol.unregisterProducer()
        await super().handle_reply(protocol, message)
        if more and gate is not None and not gate.open.is_set():
            await gate.open.wait()


def writable(protocol: Any) -> bool:
    return not protocol.finished and protocol.channel is not None
