"""OpenCode, pinned, runs one task with a tool call through the gateway: a provider in
opencode.json with the gateway's `baseURL` and the team's x-headroom-key in `headers`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clients import harness, scripted
from tests.clients.harness import proxy_trap
from tests.conftest import E2E_KEYS, Gateway
from tests.keyed_gateway import keyed_gateway, keyed_gateway_server
from tests.mock_upstream import MockUpstream

__all__ = ["keyed_gateway", "keyed_gateway_server", "proxy_trap"]  # fixtures used by name

MODEL = "gpt-5"
# Every switch OpenCode has for traffic that is not the task itself: the models.dev catalogue,
# plugins and LSP servers fetched from npm, updates, sharing.
OFFLINE = {
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_PURE": "1",
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_CLAUDE_CODE": "1",
    "OPENCODE_DISABLE_EXTERNAL_SKILLS": "1",
    "OPENCODE_DISABLE_TERMINAL_TITLE": "1",
}

# OpenCode installs its plugin SDK (@opencode-ai/plugin) into every config folder in the
# background, with no switch to turn that off: the only attempt the proxy trap may see, refused
# there, which the run survives.
PLUGIN_INSTALL = "CONNECT registry.npmjs.org:443 HTTP/1.1"


def config(url: str) -> dict:
    return {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "model": f"headroom/{MODEL}",
        "permission": {"read": "allow", "bash": "allow", "edit": "deny"},
        "provider": {
            "headroom": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Headroom Gateway",
                "options": {
                    "baseURL": f"{url}/v1",
                    "apiKey": "{env:OPENAI_API_KEY}",
                    "headers": {"x-headroom-key": "{env:HEADROOM_KEY}"},
                },
                "models": {MODEL: {"name": "GPT-5 through Headroom"}},
            }
        },
    }


def test_opencode_reads_a_file_through_the_gateway_and_the_team_is_logged(
    keyed_gateway: Gateway,
    mock_upstream: MockUpstream,
    tmp_path: Path,
    proxy_trap: harness.ProxyTrap,
) -> None:
    opencode = harness.cli("opencode")
    project = harness.workspace(tmp_path)
    marker = project / "marker.txt"
    mock_upstream.reply_with(scripted.chat("read", {"filePath": str(marker)}))
    secret = harness.issue_key()
    keyed_gateway.routes(
        dict(model_prefix="gpt-", upstream=mock_upstream.url, auth="env:HR_TEST_OPENAI_KEY")
    )
    home = tmp_path / "home"
    config_file = home / ".config" / "opencode" / "opencode.json"
    config_file.parent.mkdir(parents=True)
    config_file.write_text(json.dumps(config(keyed_gateway.url)))
    env = harness.offline_env(
        home,
        proxy_trap.url,
        OPENAI_API_KEY="sk-placeholder-not-used",
        HEADROOM_KEY=secret,
        **OFFLINE,
    )
    result = harness.run(
        [str(opencode), "run", "--model", f"headroom/{MODEL}"]
        + ["Read marker.txt and tell me what it says."],
        env,
        project,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(proxy_trap.attempts) <= {PLUGIN_INSTALL}
    assert harness.FINAL_TEXT in result.stdout
    requests = harness.model_requests(mock_upstream, "/v1/chat/completions")
    credential = ("authorization", f"Bearer {E2E_KEYS['HR_TEST_OPENAI_KEY']}")
    harness.assert_tool_loop(requests, secret, credential)
    row = harness.assert_logged(keyed_gateway, "/v1/chat/completions")
    assert row.route_label == "gpt-"
