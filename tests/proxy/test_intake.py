"""Bodies are limited while they are read, and slow senders are cut off (proxy.intake), on the
real server: a raw socket plays the hostile client, so nothing on the client side hides a delay.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Gateway, start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream

LIMIT = 1024 * 1024
READ_TIMEOUT = 2.0
IDLE_TIMEOUT = 1.0
CHAT = "/v1/chat/completions"


@pytest.fixture
def gateway(
    transactional_db: None, upstream_pool: list[MockUpstream], tmp_path: Path
) -> Iterator[Gateway]:
    env = {
        "HEADROOM_MAX_BODY_BYTES": str(LIMIT),
        "HEADROOM_CLIENT_READ_TIMEOUT": str(READ_TIMEOUT),
        "HEADROOM_CLIENT_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
    }
    server = start_gateway(
        tmp_path / "gateway.log", extra_env=env, defaults_url=upstream_pool[3].url
    )
    yield server
    stop_gateway(server)


def connect(gateway: Gateway) -> socket.socket:
    url = urlsplit(gateway.url)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def head(path: str, *lines: str) -> bytes:
    text = f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer sk-client\r\n"
    return (text + "".join(f"{line}\r\n" for line in lines) + "\r\n").encode()


def answer_within(sock: socket.socket, seconds: float) -> bytes:
    """What the gateway sent before `seconds` passed or it closed the connection."""
    received = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([sock], [], [], left)[0]:
            break
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


def status_and_json(raw: bytes) -> tuple[int, dict]:
    header, _, body = raw.partition(b"\r\n\r\n")
    return int(header.split()[1]), json.loads(body)


def test_a_declared_length_over_the_limit_gets_413_before_any_body_is_sent(
    gateway: Gateway,
) -> None:
    with connect(gateway) as sock:
        sock.sendall(head(CHAT, "content-type: application/json", "content-length: 314572800"))
        status, body = status_and_json(answer_within(sock, 1.0))
    assert status == 413
    assert body["error"]["code"] == "request_too_large"


def test_a_declared_length_over_the_limit_gets_413_in_the_anthropic_format(
    gateway: Gateway,
) -> None:
    with connect(gateway) as sock:
        sock.sendall(
            head("/v1/messages", "anthropic-version: 2023-06-01", "content-length: 5000000")
        )
        status, body = status_and_json(answer_within(sock, 1.0))
    assert (status, body["type"], body["error"]["type"]) == (413, "error", "request_too_large")


def test_a_chunked_body_is_cut_as_soon_as_it_passes_the_limit(gateway: Gateway) -> None:
    chunk = b"x" * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    with connect(gateway) as sock:
        sock.sendall(head(CHAT, "content-type: application/json", "transfer-encoding: chunked"))
        # Twice the limit, and no final chunk: the answer may not wait for the body's end.
        for _ in range(2 * LIMIT // len(chunk)):
            sock.sendall(framed)
        status, body = status_and_json(answer_within(sock, 1.0))
    assert status == 413
    assert body["error"]["code"] == "request_too_large"


def test_a_client_sending_its_whole_oversized_body_first_still_reads_the_413(
    gateway: Gateway,
) -> None:
    response = httpx.post(
        f"{gateway.url}{CHAT}", content=b"x" * (3 * LIMIT), headers={"authorization": "Bearer k"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_a_body_trickling_in_is_cut_after_the_read_timeout(gateway: Gateway) -> None:
    with connect(gateway) as sock:
        sock.sendall(head(CHAT, "content-type: application/json", "content-length: 1000"))
        started = time.monotonic()
        received = b""
        # One byte every half second keeps the idle timeout from firing; the read timeout must.
        while time.monotonic() - started < READ_TIMEOUT + 3 and not received:
            try:
                sock.sendall(b" ")
            except OSError:
                break
            received = answer_within(sock, 0.5)
        elapsed = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408"), received
    assert elapsed < READ_TIMEOUT + 1.5


def test_headers_trickling_in_are_cut_after_the_read_timeout(gateway: Gateway) -> None:
    with connect(gateway) as sock:
        sock.sendall(f"POST {CHAT} HTTP/1.1\r\nhost: 127.0.0.1\r\n".encode())
        started = time.monotonic()
        received = b""
        while time.monotonic() - started < READ_TIMEOUT + 3 and not received:
            try:
                sock.sendall(b"x-slow: 1\r\n")
            except OSError:
                break
            received = answer_within(sock, 0.5)
        elapsed = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408"), received
    assert elapsed < READ_TIMEOUT + 1.5


def test_a_body_under_the_limit_still_goes_through(gateway: Gateway) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "y" * 500_000}]}
    response = httpx.post(
        f"{gateway.url}{CHAT}", json=body, headers={"authorization": "Bearer k"}, timeout=10
    )
    assert response.status_code == 200
