"""`serve --workers N`: N gateway processes accepting on one inherited listening socket, a worker
that dies replaced, and SIGTERM/SIGINT passed on so each worker writes its request log first.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

logger = logging.getLogger("headroom.serve")

# How often the supervisor looks for dead workers.
POLL_SECONDS = 0.2
# A worker that dies sooner than this after its start counts as failing to start; each such
# failure in a row doubles the wait before the next start, up to the maximum.
QUICK_EXIT_SECONDS = 5.0
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
# Longest a stop waits for the workers before killing them: Daphne's 10 s for the requests in
# flight plus the 30 s a worker may spend writing its request log, with room to spare.
STOP_SECONDS = 45.0
# How often a worker checks that its supervisor is still there.
ORPHAN_CHECK_SECONDS = 1.0


@dataclass
class Slot:
    """One worker position: its number (1 to N, kept by the worker that replaces a dead one), the
    process in it, and how its recent starts went."""

    number: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    quick_exits: int = 0
    start_after: float = 0.0


class Supervisor:
    def __init__(self, command: list[str], listener_fd: int, workers: int) -> None:
        self.command = command
        self.listener_fd = listener_fd
        self.slots = [Slot(number) for number in range(1, workers + 1)]
        self.stop_signal: int | None = None

    def run(self) -> int:
        """Keep the workers running until SIGTERM or SIGINT; returns the exit status."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        while self.stop_signal is None:
            self.tend()
            time.sleep(POLL_SECONDS)
        return self.stop()

    def tend(self) -> None:
        """Start every empty slot whose wait is over, and empty the slots of dead workers."""
        now = time.monotonic()
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is not None:
                self._reap(slot, now)
            if slot.process is None and now >= slot.start_after:
                self._start(slot, now)

    def stop(self) -> int:
        """SIGTERM to every worker, then wait; a worker still running after STOP_SECONDS is
        killed. 0 when every worker stopped by itself."""
        running = [slot.process for slot in self.slots if slot.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        status = 0
        for process in running:
            try:
                process.wait(max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                logger.error(
                    "worker %s did not stop in %.0f s; killing it", process.pid, STOP_SECONDS
                )
                process.kill()
                process.wait()
                status = 1
        logger.info("all workers stopped")
        return status

    def _start(self, slot: Slot, now: float) -> None:
        # Each worker in its own process group: a terminal's Ctrl-C reaches the supervisor only,
        # which passes one SIGTERM on, instead of every process receiving it twice.
        command = [*self.command, "--worker", str(slot.number)]
        slot.process = subprocess.Popen(command, pass_fds=(self.listener_fd,), process_group=0)
        slot.started = now
        logger.info("worker %s started (pid %s)", slot.number, slot.process.pid)

    def _reap(self, slot: Slot, now: float) -> None:
        process = slot.process
        assert process is not None
        code = process.returncode
        how = f"signal {-code}" if code < 0 else f"status {code}"
        slot.quick_exits = slot.quick_exits + 1 if now - slot.started < QUICK_EXIT_SECONDS else 0
        wait = 0.0
        if slot.quick_exits:
            wait = min(FIRST_BACKOFF_SECONDS * 2 ** (slot.quick_exits - 1), MAX_BACKOFF_SECONDS)
        logger.warning(
            "worker %s exited with %s; starting another in %.1f s", process.pid, how, wait
        )
        slot.process = None
        slot.start_after = now + wait

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_signal = signum


def watch_supervisor(supervisor: int, stop: Callable[[], None]) -> Callable[[], None]:
    """For a worker: a check to run every ORPHAN_CHECK_SECONDS that calls `stop` (a graceful
    stop, request log written) once its supervisor, pid `supervisor`, is no longer its parent.
    The pid comes from the supervisor itself: one that died while this worker was still starting
    has already left it another parent."""

    def check() -> None:
        if os.getppid() != supervisor:
            logger.warning("the supervisor (pid %s) is gone; stopping", supervisor)
            stop()

    return check
