"""A client that reads a large answer slowly: the gateway reads the upstream only as fast as the
client takes the answer, so its memory stays flat instead of holding the whole answer.

The gateway's resident memory is read from /proc while the client reads a little at a time; the
upstream has the whole answer ready at once and would send it in well under a second.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Gateway, start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream, Reply
from tests.proxy.test_e2e_faults import AUTH, route

MIB = 1024 * 1024
ANSWER_BYTES = 96 * MIB
EVENT_BYTES = 64 * 1024
# What the gateway may grow by while the answer is read: a few socket and parser buffers, far
# from the answer's size.
ALLOWED_GROWTH = 10 * MIB
# The client takes this much, this often, this many times: at most about 3 MiB in all.
READ_BYTES, READ_PAUSE, READS = 16 * 1024, 0.02, 200


@pytest.fixture(scope="module")
def slow_client_server(
    django_db_setup: None,
    upstream_pool: list[MockUpstream],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    server = start_gateway(tmp_path_factory.mktemp("slow") / "gateway.log")
    yield server
    stop_gateway(server)


@pytest.fixture
def gateway(slow_client_server: Gateway, transactional_db: None) -> Gateway:
    return slow_client_server


def rss(gateway: Gateway) -> int:
    """The gateway process's resident memory in bytes."""
    with open(f"/proc/{gateway.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def large_stream() -> Reply:
    event = b'data: {"choices":[{"delta":{"content":"' + b"y" * (EVENT_BYTES - 64) + b'"}}]}\n\n'
    return Reply.sse([event] * (ANSWER_BYTES // EVENT_BYTES))


def large_body() -> Reply:
    body = b'{"pad": "' + b"z" * (ANSWER_BYTES - 11) + b'"}'
    return Reply(200, [("content-type", "application/json")], body)


def read_slowly(gateway: Gateway, body: dict) -> tuple[int, int]:
    """Read the answer a little at a time; returns the bytes read and the gateway's largest RSS
    seen meanwhile."""
    data = json.dumps(body).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        "content-type: application/json\r\nauthorization: Bearer sk-client\r\n"
        f"content-length: {len(data)}\r\n\r\n"
    ).encode()
    sock = socket.socket()
    # A small receive window, so the kernel does not take the answer in the client's place.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1])))
    received, peak = 0, 0
    try:
        sock.sendall(head + data)
        for _ in range(READS):
            received += len(sock.recv(READ_BYTES))
            peak = max(peak, rss(gateway))
            time.sleep(READ_PAUSE)
    finally:
        sock.close()
    return received, peak


def warm_up(gateway: Gateway, mock: MockUpstream) -> int:
    """One small answer of each kind first, so the buffers every request uses are counted in
    the baseline; returns the gateway's RSS after it."""
    mock.reply_with(Reply.json({"ok": True}))
    for stream in (False, True):
        httpx.post(
            f"{gateway.url}/v1/chat/completions",
            json={"model": "gpt-warm", "stream": stream},
            headers=AUTH,
        )
    return rss(gateway)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_slow_client_does_not_make_the_gateway_hold_a_large_answer(
    gateway: Gateway, mock_upstream: MockUpstream, stream: bool
) -> None:
    route(gateway, upstream=mock_upstream.url)
    before = warm_up(gateway, mock_upstream)
    mock_upstream.reply_with(large_stream() if stream else large_body())

    received, peak = read_slowly(gateway, {"model": "gpt-large", "stream": stream})

    assert received > READS  # the client did get the answer, slowly
    assert peak - before < ALLOWED_GROWTH, f"grew {(peak - before) / MIB:.1f} MiB"
    # The upstream answer was never read to its end: the gateway closed it with the client.
    assert mock_upstream.wait_for_disconnect()
