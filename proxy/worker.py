"""What runs inside a body worker process: one job under its hard time limit.

A worker unpickles each job's function by reference, so it imports this module and the job's
own; none of them loads Django's models, which a spawned process has not set up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NamedTuple, TypeVar

from proxy.compression.engine import CompressionResult, TimeLimit

T = TypeVar("T")

# Linux's memory-backed file system: a spilled body never touches a disk.
SHARED_MEMORY = "/dev/shm"
# Workers yield the CPU to the gateway's event loop: on a busy machine the kernel runs the loop
# first, so one caller's body work waits rather than everyone's requests.
NICENESS = 10


def start() -> None:
    """A worker process's first step."""
    with contextlib.suppress(OSError):
        os.nice(NICENESS)


class OverTime:
    """What a job hands back instead of its result when its time ran out."""


def limited(seconds: float, work: Callable[..., T], *args: Any) -> T | OverTime:
    """Run `work`, stopped once it has used `seconds` of CPU time (in a process's main thread; a
    thread has no such alarm and relies on the engine's own budget).

    CPU time, not wall time: the same body costs the same whatever else the machine is doing, so
    the decision to stop it does not depend on the load, and a body is not cut short for time it
    spent waiting for a core.
    """
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        return work(*args)
    signal.signal(signal.SIGPROF, _expire)
    try:
        try:
            signal.setitimer(signal.ITIMER_PROF, seconds)
            return work(*args)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
    except TimeLimit:
        return OverTime()


def _expire(signum: int, frame: object) -> None:
    raise TimeLimit


def on_file(work: Callable[..., T], path: str, *args: Any) -> T:
    """`work(body, *args)` for a body its caller left in a file, which is then removed.

    Bodies travel by file, not through the pool's queue: the queue pickles them in a thread of
    the caller's process while holding its interpreter lock (a tenth of a second for 30 MB), and
    writing a file releases the lock.
    """
    try:
        with open(path, "rb") as file:
            body = file.read()
    finally:
        remove(path)
    return work(body, *args)


def compress(body: bytes, engine: Callable[[bytes], CompressionResult]) -> Spilled:
    """The engine's result, its body left in a file when the engine changed it, and not handed
    back at all when the engine left it as sent (the caller holds those bytes already)."""
    result = engine(body)
    if not result.changed:
        return Spilled(replace(result, body=b""), "")
    return Spilled(replace(result, body=b""), spill(result.body))


class Spilled(NamedTuple):
    """A result whose body is in the file at `path` ("" when the caller has it)."""

    result: CompressionResult
    path: str


def spill(data: bytes) -> str:
    """Write bytes to a new file in memory-backed storage where there is some; its path."""
    where = SHARED_MEMORY if os.path.isdir(SHARED_MEMORY) else None
    descriptor, path = tempfile.mkstemp(prefix="headroom-body-", dir=where)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    return path


def take(path: str) -> bytes:
    """The bytes spilled to `path`; the file is removed."""
    try:
        with open(path, "rb") as file:
            return file.read()
    finally:
        remove(path)


def remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
