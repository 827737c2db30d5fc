"""Clients that leave: before the upstream answers, while its answer is on the way, after the
first bytes reached them, and while they are still sending their body. Each leaves one row, the
upstream request is closed, and the gateway keeps no connection, task or file descriptor.

The client is a raw socket, so it leaves exactly when the test says.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from requestlog.models import RequestLog
from tests.conftest import Gateway, start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream, Reply
from tests.proxy.test_e2e_core import CHAT_STREAM
from tests.proxy.test_e2e_faults import AUTH, Baseline, route

PING = b": ping\n\n"
# Long enough that every case ends with the client leaving, never with the upstream finishing.
SLOW = [(1.0, PING)] * 30


@pytest.fixture(scope="module")
def disconnect_server(
    django_db_setup: None,
    upstream_pool: list[MockUpstream],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    server = start_gateway(tmp_path_factory.mktemp("disconnects") / "gateway.log")
    # Open what a worker keeps for good before any case counts descriptors.
    httpx.get(f"{server.url}/v1/models", headers=AUTH)
    httpx.get(f"{server.url}/readyz")
    time.sleep(2)
    yield server
    stop_gateway(server)


@pytest.fixture
def gateway(disconnect_server: Gateway, transactional_db: None) -> Gateway:
    return disconnect_server


@pytest.fixture
def baseline(gateway: Gateway, mock_upstream: MockUpstream) -> Baseline:
    return Baseline(gateway, mock_upstream)


def connect(gateway: Gateway, body: dict, send: int | None = None) -> socket.socket:
    """A chat request on a raw connection; `send` cuts the body off after that many bytes."""
    data = json.dumps(body).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        "content-type: application/json\r\nauthorization: Bearer sk-client\r\n"
        f"content-length: {len(data)}\r\n\r\n"
    ).encode()
    port = int(gateway.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head + data[:send])
    return sock


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    """What the gateway sent, up to and including `marker` (bounded by the socket's timeout)."""
    received = b""
    while marker not in received:
        chunk = sock.recv(65536)
        assert chunk, f"the gateway closed the connection; got {received!r}"
        received += chunk
    return received


def wait_for(condition: Callable[[], object], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def rows_for(model: str) -> list[RequestLog]:
    wait_for(lambda: RequestLog.objects.filter(model=model).exists())
    return list(RequestLog.objects.filter(model=model))


def leave_after(gateway: Gateway, mock: MockUpstream, body: dict, marker: bytes) -> None:
    """Send the request, wait for the upstream to have it (and for `marker` from the gateway,
    if any), then close the connection."""
    sock = connect(gateway, body)
    wait_for(lambda: mock.requests)
    if marker:
        read_until(sock, marker)
    else:
        # Lets an answer the upstream already sent reach the gateway; the outcome is the same
        # either way, since the client has been sent nothing.
        time.sleep(0.3)
    sock.close()


def headers_then_nothing(stream: bool) -> Reply:
    """The upstream's status and headers, then a body that does not come."""
    if stream:
        return Reply.sse([CHAT_STREAM[0]], [30.0])
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n"
    return Reply(raw=head + b'{"partial": ')


def first_bytes_then_slow(stream: bool) -> Reply:
    """A first piece of the body at once, the rest slowly (a non-streamed answer without a
    declared length is relayed as it arrives, too)."""
    if stream:
        reply = Reply.sse([CHAT_STREAM[0]])
        assert reply.chunks is not None
        reply.chunks += SLOW
        return reply
    head = [("content-type", "application/json")]
    return Reply(200, head, chunks=[(0.0, b'{"id": "first-bytes", "pad": "')] + SLOW)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_client_that_leaves_before_the_upstream_answers_is_a_499(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline, stream: bool
) -> None:
    route(gateway, upstream=mock_upstream.url)
    mock_upstream.reply_with(Reply(hang=True))
    model = f"gpt-before-{stream}"

    leave_after(gateway, mock_upstream, {"model": model, "stream": stream}, b"")

    assert mock_upstream.wait_for_disconnect()
    [row] = rows_for(model)
    assert (row.status, row.disconnected, row.stream) == (499, True, stream)
    baseline.assert_nothing_left()
    assert RequestLog.objects.filter(model=model).count() == 1


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_client_that_leaves_once_the_upstream_headers_are_in_is_a_499(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline, stream: bool
) -> None:
    route(gateway, upstream=mock_upstream.url, idle_timeout=60)
    mock_upstream.reply_with(headers_then_nothing(stream))
    model = f"gpt-during-{stream}"

    leave_after(gateway, mock_upstream, {"model": model, "stream": stream}, b"")

    assert mock_upstream.wait_for_disconnect()
    [row] = rows_for(model)
    assert (row.status, row.disconnected, row.stream) == (499, True, stream)
    baseline.assert_nothing_left()
    assert RequestLog.objects.filter(model=model).count() == 1


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_client_that_leaves_after_the_first_bytes_keeps_the_status_it_got(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline, stream: bool
) -> None:
    route(gateway, upstream=mock_upstream.url)
    mock_upstream.reply_with(first_bytes_then_slow(stream))
    model = f"gpt-after-{stream}"
    marker = b"data: " if stream else b"first-bytes"

    leave_after(gateway, mock_upstream, {"model": model, "stream": stream}, marker)

    assert mock_upstream.wait_for_disconnect()
    [row] = rows_for(model)
    assert (row.status, row.disconnected, row.stream) == (200, True, stream)
    baseline.assert_nothing_left()
    assert RequestLog.objects.filter(model=model).count() == 1


def test_a_client_that_leaves_while_sending_its_body_is_a_499_and_nothing_goes_upstream(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    route(gateway, upstream=mock_upstream.url)
    body = {"model": "gpt-half-sent", "messages": [{"role": "user", "content": "x" * 4000}]}
    sock = connect(gateway, body, send=2000)
    # The first half is in: the gateway is waiting for the rest.
    time.sleep(0.3)
    sock.close()

    [row] = rows_for("")
    assert (row.status, row.disconnected, row.endpoint, row.method) == (
        499,
        True,
        "/v1/chat/completions",
        "POST",
    )
    assert mock_upstream.requests == []
    baseline.assert_nothing_left()
    assert RequestLog.objects.count() == 1
