"""Claude Code, pinned, runs one task with a tool call through the gateway: ANTHROPIC_BASE_URL
names the gateway and ANTHROPIC_CUSTOM_HEADERS carries the team's x-headroom-key."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clients import harness, scripted
from tests.clients.harness import proxy_trap
from tests.conftest import E2E_KEYS, Gateway
from tests.keyed_gateway import keyed_gateway, keyed_gateway_server
from tests.mock_upstream import MockUpstream

__all__ = ["keyed_gateway", "keyed_gateway_server", "proxy_trap"]  # fixtures used by name

MODEL = "claude-sonnet-4-5"
# Every switch Claude Code has for traffic that is not the task itself.
OFFLINE = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1",
    "DISABLE_COST_WARNINGS": "1",
    "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
    "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
}


def test_claude_code_reads_a_file_through_the_gateway_and_the_team_is_logged(
    keyed_gateway: Gateway,
    mock_upstream: MockUpstream,
    tmp_path: Path,
    proxy_trap: harness.ProxyTrap,
) -> None:
    claude = harness.cli("claude")
    project = harness.workspace(tmp_path)
    marker = project / "marker.txt"
    mock_upstream.reply_with(scripted.anthropic("Read", {"file_path": str(marker)}))
    secret = harness.issue_key()
    keyed_gateway.routes(
        dict(
            model_prefix="claude-",
            upstream=mock_upstream.url,
            protocol="anthropic",
            auth="env:HR_TEST_ANTHROPIC_KEY",
        )
    )
    env = harness.offline_env(
        tmp_path / "home",
        proxy_trap.url,
        ANTHROPIC_BASE_URL=keyed_gateway.url,
        ANTHROPIC_API_KEY="sk-ant-placeholder-not-used",
        ANTHROPIC_CUSTOM_HEADERS=f"x-headroom-key: {secret}",
        **OFFLINE,
    )
    result = harness.run(
        [str(claude), "-p", "Read marker.txt and tell me what it says.", "--model", MODEL]
        + ["--allowedTools", "Read", "--output-format", "json"],
        env,
        project,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert proxy_trap.attempts == []  # nothing but the gateway was asked for anything
    assert json.loads(result.stdout)["result"] == harness.FINAL_TEXT
    requests = harness.model_requests(mock_upstream, "/v1/messages")
    credential = ("x-api-key", E2E_KEYS["HR_TEST_ANTHROPIC_KEY"])
    harness.assert_tool_loop(requests, secret, credential)
    row = harness.assert_logged(keyed_gateway, "/v1/messages")
    assert row.route_label == "claude-"
