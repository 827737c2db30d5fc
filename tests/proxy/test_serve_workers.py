"""End to end: `serve --workers 2` on the embedded SQLite database. Both workers answer on one
port, a worker killed with SIGKILL is replaced while requests keep succeeding, and SIGTERM to the
supervisor stops every worker with its request-log rows written.

Which worker answers is the kernel's choice; to make one worker answer, the test pauses the
other with SIGSTOP (a paused process accepts no connections) and resumes it afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from requestlog.models import RequestLog
from tests.conftest import ROOT, database_url, free_port
from tests.mock_upstream import MockUpstream

REQUESTS = 4
# Longest wait for the workers to start (two Django start-ups on a shared machine), and for a
# killed worker to be replaced.
START_SECONDS = 60
# Longest wait for the supervisor to stop its workers after SIGTERM.
STOP_SECONDS = 60


def children(pid: int) -> list[int]:
    """The processes `pid` started (Linux)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def paused(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def chat(url: str, model: str) -> int:
    # A new connection per request, so the kernel hands each one to a worker that is accepting.
    response = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": model, "messages": []},
        headers={"authorization": "Bearer sk-client"},
        timeout=10,
    )
    return response.status_code


def send(url: str, label: str) -> list[int]:
    return [chat(url, f"gpt-{label}-{index}") for index in range(REQUESTS)]


def serves(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def supervisor(default_upstream: MockUpstream, tmp_path: Path) -> Iterator[subprocess.Popen]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.endswith("_KEY")}
    env.update(
        DJANGO_SETTINGS_MODULE="headroom_site.settings",
        DATABASE_URL=database_url(),
        OPENAI_TARGET_API_URL=default_upstream.url,
        # Far beyond the test's length: only the shutdown flush can write the rows.
        HEADROOM_LOG_FLUSH_SECONDS="600",
    )
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    process.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    process.log = tmp_path / "serve.log"  # type: ignore[attr-defined]
    try:
        wait_for(lambda: len(children(process.pid)) == 2, START_SECONDS, "two workers")
        wait_for(lambda: serves(process.url), START_SECONDS, "the port to answer")  # type: ignore[attr-defined]
        yield process
    finally:
        workers = children(process.pid) if process.poll() is None else []
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
        if process.poll() is None:
            process.kill()
            process.wait(10)
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()


@pytest.mark.django_db(transaction=True)
def test_two_workers_share_the_port_survive_a_kill_and_flush_on_sigterm(
    supervisor: subprocess.Popen,
) -> None:
    url = supervisor.url  # type: ignore[attr-defined]
    first, second = children(supervisor.pid)

    with paused(first):
        answered_by_second = send(url, "second")
    with paused(second):
        answered_by_first = send(url, "first")
    assert answered_by_second == answered_by_first == [200] * REQUESTS

    # SIGKILL loses the first worker's queued rows; the second keeps answering meanwhile.
    os.kill(first, signal.SIGKILL)
    assert send(url, "after-kill") == [200] * REQUESTS
    wait_for(
        lambda: len(set(children(supervisor.pid)) - {first, second}) == 1,
        START_SECONDS,
        "a replacement worker",
    )
    (replacement,) = set(children(supervisor.pid)) - {first, second}
    with paused(second):
        wait_for(lambda: serves(url), START_SECONDS, "the replacement to answer")
        answered_by_replacement = send(url, "replacement")
    assert answered_by_replacement == [200] * REQUESTS

    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(STOP_SECONDS) == 0, supervisor.log.read_text()  # type: ignore[attr-defined]
    assert not alive(second) and not alive(replacement)
    models = set(RequestLog.objects.values_list("model", flat=True))
    for label in ("second", "after-kill", "replacement"):
        assert {f"gpt-{label}-{index}" for index in range(REQUESTS)} <= models, label
    log = supervisor.log.read_text()  # type: ignore[attr-defined]
    assert f"worker {first} exited with signal 9" in log


@pytest.mark.django_db(transaction=True)
def test_workers_stop_by_themselves_when_the_supervisor_is_killed(
    supervisor: subprocess.Popen,
) -> None:
    workers = children(supervisor.pid)
    supervisor.kill()
    supervisor.wait(10)
    wait_for(lambda: not any(alive(pid) for pid in workers), STOP_SECONDS, "orphans to stop")
