"""End to end: text a client chose (a path, a model name) reaches the gateway's own log escaped,
so it can never start a forged log line."""

from __future__ import annotations

import time

import httpx

from proxy.logformat import escape
from tests.conftest import Gateway
from tests.mock_upstream import MockUpstream

FORGED = "2026-01-01 00:00:00,000 INFO headroom.access FORGED"


def test_a_path_and_model_with_line_breaks_cannot_forge_a_log_line(
    gateway: Gateway, mock_upstream: MockUpstream
) -> None:
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url, "protocol": "openai"})
    body = {"model": f"gpt-x\n{FORGED}\r", "messages": []}
    with httpx.Client(base_url=gateway.url, headers={"authorization": "Bearer k"}) as client:
        client.post("/v1/chat/completions", json=body)
        client.post("/v1/custom%0d%0a" + FORGED.replace(" ", "%20"), json={"model": "m\x07"})
    time.sleep(0.3)
    lines = gateway.log().splitlines()
    assert not [line for line in lines if line.startswith(FORGED)]
    assert any("gpt-x\\x0a2026" in line for line in lines)


def test_escape_leaves_printable_text_alone_and_escapes_the_rest() -> None:
    assert escape("plain text é") == "plain text é"
    assert escape("a\r\nb\x00\x1b\u2028") == "a\\x0d\\x0ab\\x00\\x1b\\u2028"
