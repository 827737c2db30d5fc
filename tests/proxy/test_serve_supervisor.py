"""The worker supervisor on its own, with stand-in workers: a worker that dies is replaced, one
that keeps dying at start waits longer each time, and a stop ends every worker."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator

import pytest

from proxy import supervisor
from proxy.supervisor import Supervisor

EXITS_AT_ONCE = [sys.executable, "-c", "raise SystemExit(3)"]
RUNS_ON = [sys.executable, "-c", "import time; time.sleep(30)"]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


def wait_for_exit(boss: Supervisor, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while any(slot.process.poll() is None for slot in boss.slots if slot.process):
        assert time.monotonic() < deadline, "the stand-in worker did not exit"
        time.sleep(0.02)


def test_it_starts_one_process_per_worker(listener: socket.socket) -> None:
    boss = Supervisor(RUNS_ON, listener.fileno(), 2)
    boss.tend()
    try:
        pids = {slot.process.pid for slot in boss.slots if slot.process}
        assert len(pids) == 2
    finally:
        assert boss.stop() == 0


def test_a_worker_that_keeps_dying_at_start_waits_longer_each_time(
    listener: socket.socket,
) -> None:
    boss = Supervisor(EXITS_AT_ONCE, listener.fileno(), 1)
    (slot,) = boss.slots
    waits = []
    for _ in range(3):
        boss.tend()
        wait_for_exit(boss)
        before = time.monotonic()
        boss.tend()  # reaps it and schedules the next start
        waits.append(round(slot.start_after - before, 1))
        slot.start_after = 0.0
    assert waits == [0.5, 1.0, 2.0]


def test_a_worker_that_ran_a_while_is_replaced_at_once(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor, "QUICK_EXIT_SECONDS", 0.0)
    boss = Supervisor(EXITS_AT_ONCE, listener.fileno(), 1)
    boss.tend()
    first = boss.slots[0].process
    wait_for_exit(boss)
    boss.tend()
    assert boss.slots[0].process is not None and boss.slots[0].process is not first
    wait_for_exit(boss)


def test_stop_ends_every_worker(listener: socket.socket) -> None:
    boss = Supervisor(RUNS_ON, listener.fileno(), 2)
    boss.tend()
    processes = [slot.process for slot in boss.slots]
    assert boss.stop() == 0
    assert all(process.returncode is not None for process in processes)


def test_each_worker_is_told_its_number_and_its_replacement_the_same_one(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervisor, "QUICK_EXIT_SECONDS", 0.0)
    boss = Supervisor(EXITS_AT_ONCE, listener.fileno(), 2)
    boss.tend()
    first = [slot.process.args[-2:] for slot in boss.slots if slot.process]
    wait_for_exit(boss)
    boss.tend()
    replaced = [slot.process.args[-2:] for slot in boss.slots if slot.process]
    wait_for_exit(boss)
    assert first == replaced == [["--worker", "1"], ["--worker", "2"]]
