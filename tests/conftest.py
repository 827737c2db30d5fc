"""Shared fixtures: a file-backed test database the real server can share, the MockTransport seam,
and the end-to-end pair of a real gateway under Daphne and real mock upstreams on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from proxy import upstream
from requestlog import writer
from routing import table
from routing.models import UpstreamRoute
from tests.mock_upstream import MockUpstream

ROOT = Path(__file__).resolve().parent.parent
# Seconds the e2e gateway waits between route-table reads, and how long tests wait for a pickup.
E2E_POLL_SECONDS = 0.1
ROUTE_PICKUP_SECONDS = 0.35
# Environment variables the e2e gateway process has, for `env:` routes.
E2E_KEYS = {
    "HR_TEST_OPENAI_KEY": "sk-injected-openai-0001",
    "HR_TEST_ANTHROPIC_KEY": "sk-ant-injected-0002",
    "HR_TEST_GEMINI_KEY": "AIza-injected-0003",
}


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """SQLite tests use a file, so a gateway process started by a test sees the same data."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(autouse=True)
def _fresh_route_table(settings: object) -> Iterator[None]:
    # The per-worker table outlives a test's rolled-back transaction; start each test clean, and
    # keep the poller thread from reading the database behind the test's back.
    settings.HEADROOM_ROUTES_POLL_SECONDS = 0  # type: ignore[attr-defined]
    # Retries wait no time unless a test asks for a backoff.
    settings.HEADROOM_RETRY_BACKOFF_SECONDS = 0  # type: ignore[attr-defined]
    table.invalidate()
    yield
    table.invalidate()


@pytest.fixture(autouse=True)
def _manual_log_writer(settings: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # No writer thread in unit tests: a test's rows are saved only when it calls
    # writer.flush() (inside its own transaction); each test starts with an empty queue, so rows
    # one test left queued never reach the next.
    settings.HEADROOM_LOG_FLUSH_SECONDS = 0  # type: ignore[attr-defined]
    # Nothing is spilled into the checkout; spill tests name a directory of their own.
    settings.HEADROOM_LOG_SPILL_DIR = ""  # type: ignore[attr-defined]
    monkeypatch.setattr(writer.writer, "queue", None)
    yield


@dataclass
class UpstreamSeam:
    """What the shared client sent, answered by `handler` (an httpx.MockTransport)."""

    requests: list[httpx.Request] = field(default_factory=list)
    handler: Callable[[httpx.Request], httpx.Response] = lambda request: httpx.Response(
        200, json={"ok": True}
    )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.handler(request)


@pytest.fixture
def upstream_seam(monkeypatch: pytest.MonkeyPatch) -> Iterator[UpstreamSeam]:
    seam = UpstreamSeam()
    monkeypatch.setattr(upstream, "make_transport", lambda: httpx.MockTransport(seam))
    upstream._transport = None
    yield seam
    upstream._transport = None


def stalled_stream(
    first: bytes, rest: bytes, cancelled: asyncio.Event
) -> Callable[[httpx.Request], httpx.Response]:
    """A seam handler whose event stream sends `first`, then stalls until the gateway cancels
    it (setting `cancelled`), and would send `rest` only if it were never cancelled."""

    def handler(request: httpx.Request) -> httpx.Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield first
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            yield rest

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=chunks())

    return handler


async def leave_after_the_first_chunk(body: bytes, authorization: bytes) -> list[dict]:
    """POST a chat stream at the ASGI level and disconnect once the first body chunk arrives,
    so the disconnect is real; returns the messages the gateway sent."""
    from headroom_site.asgi import application  # after pytest-django has configured Django

    first_chunk = asyncio.Event()
    sent: list[dict] = []
    inbox = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        if inbox:
            return inbox.pop()
        await first_chunk.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first_chunk.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", authorization),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8787),
    }
    await asyncio.wait_for(application(scope, receive, send), timeout=5)
    return sent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen
    log_path: Path

    def routes(self, *specs: dict) -> list[UpstreamRoute]:
        """Replace the route table and wait until the server has picked it up."""
        UpstreamRoute.objects.all().delete()
        created = [
            UpstreamRoute.objects.create(position=index, **spec) for index, spec in enumerate(specs)
        ]
        time.sleep(ROUTE_PICKUP_SECONDS)
        return created

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def upstream_pool() -> Iterator[list[MockUpstream]]:
    mocks = [MockUpstream() for _ in range(4)]
    yield mocks
    for mock in mocks:
        mock.close()


@pytest.fixture
def mock_upstreams(upstream_pool: list[MockUpstream]) -> list[MockUpstream]:
    """Three fresh upstreams for one test; a fourth stands behind the legacy default targets."""
    for mock in upstream_pool:
        mock.reset()
    return upstream_pool[:3]


@pytest.fixture
def mock_upstream(mock_upstreams: list[MockUpstream]) -> MockUpstream:
    return mock_upstreams[0]


@pytest.fixture
def default_upstream(upstream_pool: list[MockUpstream]) -> MockUpstream:
    upstream_pool[3].reset()
    return upstream_pool[3]


def start_gateway(
    log_path: Path,
    extra_env: dict[str, str] | None = None,
    defaults_url: str = "",
    workers: int = 1,
    start_seconds: float = 60,
) -> Gateway:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith(("_API_KEY", "_KEY")) and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="headroom_site.settings",
        DATABASE_URL=database_url(),
        HEADROOM_ROUTES_POLL_SECONDS=str(E2E_POLL_SECONDS),
        HEADROOM_RETRY_BACKOFF_SECONDS="0.01",
        OPENAI_TARGET_API_URL=defaults_url,
        ANTHROPIC_TARGET_API_URL=defaults_url,
        GEMINI_TARGET_API_URL=defaults_url,
        **E2E_KEYS,
    )
    # Applied last, so a test may replace any of the above (DATABASE_URL, the poll interval).
    env.update(extra_env or {})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Gateway(url, process, log_path)
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    process.wait(10)
    raise RuntimeError(f"the gateway did not start:\n{log_path.read_text()}")


def stop_gateway(gateway: Gateway) -> None:
    gateway.process.terminate()
    try:
        gateway.process.wait(10)
    except subprocess.TimeoutExpired:
        gateway.process.kill()


@pytest.fixture(scope="session")
def gateway_server(
    django_db_setup: None,
    upstream_pool: list[MockUpstream],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    log_path = tmp_path_factory.mktemp("gateway") / "gateway.log"
    server = start_gateway(log_path, defaults_url=upstream_pool[3].url)
    yield server
    stop_gateway(server)


@pytest.fixture
def gateway(gateway_server: Gateway, transactional_db: None) -> Gateway:
    """The running gateway, with committed test data it can see (routes start empty)."""
    return gateway_server
