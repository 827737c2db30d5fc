"""SIGTERM with traffic in flight: the worker stops accepting, lets what can finish within the
grace period finish, ends the streams left with the family's error event, writes every row."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from requestlog.models import RequestLog
from routing.models import UpstreamRoute
from tests.conftest import Gateway, start_gateway
from tests.mock_upstream import MockUpstream, Recorded, Reply
from tests.proxy.test_e2e_core import CHAT_STREAM, MESSAGE_STREAM

GRACE = 2.0
AUTH = {"authorization": "Bearer sk-client", "x-api-key": "sk-ant-client"}


def by_model(request: Recorded) -> Reply:
    """gpt-long-* and claude-long-* stream for 30 s; gpt-short-* finish within the grace."""
    model = json.loads(request.body)["model"]
    if model.startswith("claude-long"):
        return Reply.sse(MESSAGE_STREAM[:2] + [b": ping\n\n"] * 30, [0, 0] + [1.0] * 30)
    if model.startswith("gpt-long"):
        return Reply.sse(CHAT_STREAM[:1] + [b": ping\n\n"] * 30, [0] + [1.0] * 30)
    if model.startswith("gpt-short"):
        return Reply.sse(CHAT_STREAM, [0, 0.5, 0.5])
    return Reply.json({"id": "x", "choices": []})


def stream_in_thread(gateway: Gateway, path: str, model: str, out: dict) -> threading.Thread:
    def run() -> None:
        body = {"model": model, "max_tokens": 5, "messages": [], "stream": True}
        try:
            with httpx.stream(
                "POST", f"{gateway.url}{path}", json=body, headers=AUTH, timeout=60
            ) as r:
                out[model] = (r.status_code, r.read())
        except httpx.HTTPError as exc:
            out[model] = (0, repr(exc).encode())

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_sigterm_mid_stream_ends_streams_with_error_events_and_keeps_one_row_per_request(
    mock_upstream: MockUpstream, tmp_path: Path
) -> None:
    gateway = start_gateway(
        tmp_path / "gateway.log", extra_env={"HEADROOM_SHUTDOWN_GRACE_SECONDS": str(GRACE)}
    )
    UpstreamRoute.objects.create(
        position=0, model_prefix="claude-", upstream=mock_upstream.url, protocol="anthropic"
    )
    UpstreamRoute.objects.create(position=1, model_prefix="*", upstream=mock_upstream.url)
    mock_upstream.reply_with(by_model)
    for index in range(3):
        httpx.post(
            f"{gateway.url}/v1/chat/completions", json={"model": f"gpt-quick-{index}"}, headers=AUTH
        ).raise_for_status()
    out: dict[str, tuple[int, bytes]] = {}
    threads = [
        stream_in_thread(gateway, "/v1/chat/completions", "gpt-long-1", out),
        stream_in_thread(gateway, "/v1/messages", "claude-long-1", out),
    ]
    # Both long streams are under way at the upstream before the signal.
    deadline = time.monotonic() + 10
    while len(mock_upstream.requests) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    threads.append(stream_in_thread(gateway, "/v1/chat/completions", "gpt-short-1", out))
    time.sleep(0.3)

    gateway.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{gateway.url}/v1/chat/completions", json={"model": "gpt-late"}, headers=AUTH)
    for thread in threads:
        thread.join(30)
    gateway.process.wait(30)

    assert gateway.process.returncode == 0, gateway.log()
    assert out["gpt-short-1"] == (200, b"".join(CHAT_STREAM))
    status, body = out["gpt-long-1"]
    assert status == 200 and body.startswith(CHAT_STREAM[0])
    last = body.decode().strip().splitlines()[-1]
    assert json.loads(last.removeprefix("data: "))["error"]["code"] == "gateway_shutdown"
    status, body = out["claude-long-1"]
    tail = body.decode().strip().split("\n\n")[-1]
    assert status == 200 and tail.startswith("event: error\ndata: ")
    rows = dict(RequestLog.objects.values_list("model", "error_type"))
    assert rows == {
        "gpt-quick-0": "",
        "gpt-quick-1": "",
        "gpt-quick-2": "",
        "gpt-short-1": "",
        "gpt-long-1": "gateway_shutdown",
        "claude-long-1": "gateway_shutdown",
    }
    assert RequestLog.objects.count() == 6
