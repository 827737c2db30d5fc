"""Gemini CLI, pinned, runs one task with a tool call through the gateway:
GOOGLE_GEMINI_BASE_URL names the gateway and GEMINI_CLI_CUSTOM_HEADERS carries the team's
x-headroom-key. Its settings pick API-key auth explicitly (with a base URL set it would choose a
"gateway" auth type that its own headless check then refuses) and turn folder trust off, so the
project folder's tools may run without the trust prompt."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clients import harness, scripted
from tests.clients.harness import proxy_trap
from tests.conftest import E2E_KEYS, Gateway
from tests.keyed_gateway import keyed_gateway, keyed_gateway_server
from tests.mock_upstream import MockUpstream

__all__ = ["keyed_gateway", "keyed_gateway_server", "proxy_trap"]  # fixtures used by name

MODEL = "gemini-2.5-flash"
SETTINGS = {
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
    "model": {"name": MODEL},
}


def test_gemini_cli_reads_a_file_through_the_gateway_and_the_team_is_logged(
    keyed_gateway: Gateway,
    mock_upstream: MockUpstream,
    tmp_path: Path,
    proxy_trap: harness.ProxyTrap,
) -> None:
    gemini = harness.cli("gemini")
    project = harness.workspace(tmp_path)
    marker = project / "marker.txt"
    mock_upstream.reply_with(scripted.gemini("read_file", str(marker)))
    secret = harness.issue_key()
    keyed_gateway.routes(
        dict(
            model_prefix="gemini-",
            upstream=mock_upstream.url,
            protocol="gemini",
            auth="env:HR_TEST_GEMINI_KEY",
        )
    )
    home = tmp_path / "home"
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps(SETTINGS))
    env = harness.offline_env(
        home,
        proxy_trap.url,
        GOOGLE_GEMINI_BASE_URL=keyed_gateway.url,
        GEMINI_API_KEY="AIza-placeholder-not-used",
        GEMINI_CLI_CUSTOM_HEADERS=f"x-headroom-key: {secret}",
        GEMINI_CLI_TRUST_WORKSPACE="true",
        GEMINI_CLI_NO_RELAUNCH="true",
    )
    result = harness.run(
        [str(gemini), "--model", MODEL, "--output-format", "json"]
        + ["-p", "Read marker.txt and tell me what it says."],
        env,
        project,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert proxy_trap.attempts == []  # nothing but the gateway was asked for anything
    assert harness.FINAL_TEXT in json.loads(result.stdout)["response"]
    requests = harness.model_requests(mock_upstream, f"/v1beta/models/{MODEL}:stream")
    credential = ("x-goog-api-key", E2E_KEYS["HR_TEST_GEMINI_KEY"])
    harness.assert_tool_loop(requests, secret, credential)
    row = harness.assert_logged(keyed_gateway, f"/v1beta/models/{MODEL}:streamGenerateContent")
    assert row.route_label == "gemini-"
