"""Graceful stop of one worker (SIGTERM/SIGINT): stop accepting, let requests in flight finish
within HEADROOM_SHUTDOWN_GRACE_SECONDS, then end the streams still running with the family's
error event; the reactor's own shutdown then closes the upstream pool and writes the log.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from twisted.internet import reactor, tcp

from proxy import relay

logger = logging.getLogger("headroom.serve")
# How often the stop checks whether the requests in flight are done, and how long streams ended
# at the grace period's end get to send their error event.
POLL_SECONDS = 0.05
ENDING_SECONDS = 2.0


class GracefulStop:
    def __init__(self, server: Any) -> None:
        self.server = server  # daphne.server.Server
        self.begun = False

    def install(self) -> None:
        """Take SIGTERM and SIGINT from Twisted, whose handlers stop the reactor at once."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        reactor.callFromThread(self.begin)

    def begin(self) -> None:
        if self.begun:
            # A second signal: stop now (Daphne cancels whatever still runs).
            reactor.stop()  # type: ignore[misc]  # Twisted's interfaces, read without mypy-zope
            return
        self.begun = True
        stop_accepting()
        grace = settings.HEADROOM_SHUTDOWN_GRACE_SECONDS
        logger.info("stopping: %d request(s) in flight, up to %.0f s", self.in_flight(), grace)
        self._wait(time.monotonic() + grace, self._end_streams)

    def in_flight(self) -> int:
        connections = getattr(self.server, "connections", {}).values()
        return sum(
            1
            for details in connections
            if details.get("application_instance") is not None
            and not details["application_instance"].done()
        )

    def _wait(self, deadline: float, then: Callable[[], None]) -> None:
        if not self.in_flight():
            reactor.stop()  # type: ignore[misc]
        elif time.monotonic() >= deadline:
            then()
        else:
            reactor.callLater(POLL_SECONDS, self._wait, deadline, then)  # type: ignore[arg-type]

    def _end_streams(self) -> None:
        ended = relay.end_all()
        logger.info("stopping: grace period over, %d stream(s) ended", ended)
        self._wait(time.monotonic() + ENDING_SECONDS, reactor.stop)  # type: ignore[misc]


def stop_accepting() -> None:
    """Close this process's listening ports; connections already accepted carry on."""
    for reader in reactor.getReaders():  # type: ignore[misc]
        if isinstance(reader, tcp.Port):
            reader.stopListening()
