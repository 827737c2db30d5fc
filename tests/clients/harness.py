"""Running a pinned coding-agent CLI (installed by tests/install-system-deps.sh into
tests/clients/node_modules) through the gateway, offline: a private HOME, every base URL on
loopback, and for anything else a proxy on loopback that records the attempt and refuses it.
"""

from __future__ import annotations

import json
import os
import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

from keys import issuing
from requestlog.models import RequestLog
from tests.conftest import Gateway
from tests.keyed_gateway import wait_for_row
from tests.mock_upstream import MockUpstream, Recorded

CLIENTS = Path(__file__).resolve().parent
BIN = CLIENTS / "node_modules" / ".bin"
RUN_SECONDS = 180
# What the agent's tool reads, and what the model answers once it has seen the tool's output.
MARKER = "headroom-marker-7f3a"
FINAL_TEXT = "The marker file says headroom-marker-7f3a."
TEAM = "agents"


def cli(name: str) -> Path:
    """The installed CLI, or a skip that says what is missing."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed (tests/install-system-deps.sh installs it)")
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed: run `bash tests/install-system-deps.sh`")
    return path


class ProxyTrap:
    """An HTTP proxy on loopback that answers nothing: it records the first line of each attempt
    (`CONNECT host:443 …`, `GET http://…`) and closes the connection."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        trap = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline(2048).decode("latin-1").strip()
                trap.attempts.append(line)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ProxyTrap:
        self.thread.start()
        return self

    def __exit__(
        self, kind: type | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy_trap() -> Iterator[ProxyTrap]:
    with ProxyTrap() as trap:
        yield trap


def offline_env(home: Path, proxy: str, **extra: str) -> dict[str, str]:
    """A minimal environment: nothing from the developer's shell, and every proxy variable set
    to `proxy` (a ProxyTrap) with only loopback exempt."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "HTTP_PROXY": proxy,
        "HTTPS_PROXY": proxy,
        "ALL_PROXY": proxy,
        "http_proxy": proxy,
        "https_proxy": proxy,
        "all_proxy": proxy,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(extra)
    return env


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    return result


def workspace(tmp_path: Path) -> Path:
    """A project folder holding the file the agent's tool reads."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "marker.txt").write_text(MARKER + "\n")
    return folder


def issue_key() -> str:
    _, secret = issuing.issue(team=TEAM, name="cli")
    return secret


def model_requests(mock: MockUpstream, path: str) -> list[Recorded]:
    return [request for request in mock.requests if request.path.startswith(path)]


def body_text(request: Recorded) -> str:
    return request.body.decode("utf-8", "replace")


def assert_tool_loop(requests: list[Recorded], secret: str, credential: tuple[str, str]) -> None:
    """A first request, then one carrying the tool's output; each forwarded with the route's key
    and none carrying the gateway key."""
    assert requests, "no model request reached the upstream"
    first_with_result = next(
        (i for i, request in enumerate(requests) if MARKER in body_text(request)), None
    )
    assert first_with_result is not None and first_with_result > 0, [
        json.dumps(request.json())[:300] for request in requests
    ]
    for request in requests:
        assert request.header(credential[0]) == credential[1]
        assert secret not in repr(request)
        assert request.header("x-headroom-key") is None


def assert_logged(gateway: Gateway, endpoint: str) -> RequestLog:
    row = wait_for_row(endpoint=endpoint, team=TEAM, status=200)
    assert row.gateway_key_id is not None
    return row
