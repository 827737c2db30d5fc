"""Codex, pinned, runs one task with a shell call through the gateway: a `model_providers` block
in config.toml names the gateway, `env_key` the client's key variable, and `env_http_headers`
the team's x-headroom-key."""

from __future__ import annotations

from pathlib import Path

from tests.clients import harness, scripted
from tests.clients.harness import proxy_trap
from tests.conftest import E2E_KEYS, Gateway
from tests.keyed_gateway import keyed_gateway, keyed_gateway_server
from tests.mock_upstream import MockUpstream

__all__ = ["keyed_gateway", "keyed_gateway_server", "proxy_trap"]  # fixtures used by name

MODEL = "gpt-5"
CONFIG = """\
model = "{model}"
model_provider = "headroom"
check_for_update_on_startup = false

[model_providers.headroom]
name = "Headroom Gateway"
base_url = "{url}/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"
env_http_headers = {{ "x-headroom-key" = "HEADROOM_KEY" }}
request_max_retries = 0
stream_max_retries = 0

[features]
plugins = false
remote_plugin = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
"""


def test_codex_runs_a_shell_command_through_the_gateway_and_the_team_is_logged(
    keyed_gateway: Gateway,
    mock_upstream: MockUpstream,
    tmp_path: Path,
    proxy_trap: harness.ProxyTrap,
) -> None:
    codex = harness.cli("codex")
    project = harness.workspace(tmp_path)
    mock_upstream.reply_with(scripted.responses("cat marker.txt"))
    secret = harness.issue_key()
    keyed_gateway.routes(
        dict(model_prefix="gpt-", upstream=mock_upstream.url, auth="env:HR_TEST_OPENAI_KEY")
    )
    home = tmp_path / "home"
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True)
    (codex_home / "config.toml").write_text(CONFIG.format(model=MODEL, url=keyed_gateway.url))
    env = harness.offline_env(
        home,
        proxy_trap.url,
        CODEX_HOME=str(codex_home),
        OPENAI_API_KEY="sk-placeholder-not-used",
        HEADROOM_KEY=secret,
    )
    result = harness.run(
        [str(codex), "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"]
        + ["Run `cat marker.txt` and tell me what it says."],
        env,
        project,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert proxy_trap.attempts == []  # nothing but the gateway was asked for anything
    assert harness.FINAL_TEXT in result.stdout
    requests = harness.model_requests(mock_upstream, "/v1/responses")
    credential = ("authorization", f"Bearer {E2E_KEYS['HR_TEST_OPENAI_KEY']}")
    harness.assert_tool_loop(requests, secret, credential)
    row = harness.assert_logged(keyed_gateway, "/v1/responses")
    assert row.route_label == "gpt-"
