"""Running a pinned coding-agent CLI (installed by `npm ci --prefix tests/clients`) through the
gateway, offline: a private HOME, every base URL on loopback, and a dead proxy for anything else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from proxy import keys
from proxy.models import RequestLog
from tests.conftest import Gateway
from tests.keyed_gateway import wait_for_row
from tests.mock_upstream import MockUpstream, Recorded

CLIENTS = Path(__file__).resolve().parent
BIN = CLIENTS / "node_modules" / ".bin"
# A discard port nothing listens on: any request a CLI tries past the gateway fails at once.
DEAD_PROXY = "http://127.0.0.1:9"
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
        pytest.skip(f"{name} is not installed: run `npm ci --prefix tests/clients`")
    return path


def offline_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal environment: nothing from the developer's shell, no proxy but a dead one."""
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
        "HTTP_PROXY": DEAD_PROXY,
        "HTTPS_PROXY": DEAD_PROXY,
        "ALL_PROXY": DEAD_PROXY,
        "http_proxy": DEAD_PROXY,
        "https_proxy": DEAD_PROXY,
        "all_proxy": DEAD_PROXY,
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
    _, secret = keys.issue(team=TEAM, name="cli")
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
