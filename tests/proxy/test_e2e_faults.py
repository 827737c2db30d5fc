"""The fault matrix: a real gateway under Daphne against a misbehaving upstream on loopback.

Each case asserts what the client gets (a status, or an error event in the family's stream
format), the request-log row, and that the gateway is left with no extra connection, task or
file descriptor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from unittest import mock

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import TestCase

from proxy import upstream
from requestlog import writer
from requestlog.models import RequestLog
from routing.models import UpstreamRoute
from tests.conftest import (
    ROUTE_PICKUP_SECONDS,
    Gateway,
    database_url,
    free_port,
    start_gateway,
    stop_gateway,
)
from tests.mock_upstream import MockUpstream, Reply
from tests.proxy.test_e2e_core import CHAT_STREAM, MESSAGE_STREAM

RESPONSE_LIMIT = 64 * 1024
AUTH = {"authorization": "Bearer sk-client"}
CHAT = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**CHAT, "stream": True}
MESSAGE = {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def fault_server(
    django_db_setup: None,
    upstream_pool: list[MockUpstream],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    log_path = tmp_path_factory.mktemp("faults") / "gateway.log"
    env = {"HEADROOM_MAX_RESPONSE_BYTES": str(RESPONSE_LIMIT)}
    server = start_gateway(log_path, env, defaults_url=upstream_pool[3].url)
    # Open what a worker keeps for good (database connections of the poller, the log writer
    # and readiness) before any case counts descriptors.
    httpx.get(f"{server.url}/v1/models", headers=AUTH)
    httpx.get(f"{server.url}/readyz")
    time.sleep(2)
    yield server
    stop_gateway(server)


@pytest.fixture
def gateway(fault_server: Gateway, transactional_db: None) -> Gateway:
    return fault_server


class Baseline:
    """The gateway's open file descriptors and event-loop tasks before a case."""

    def __init__(self, gateway: Gateway, mock: MockUpstream) -> None:
        self.gateway, self.mock = gateway, mock
        self.fds = self.upstream_free_fds()
        self.tasks = tasks(gateway)

    def upstream_free_fds(self) -> int:
        # An idle keep-alive connection in the upstream pool is reuse, not a leak; nor are the
        # database files, which the writer and the table pollers open and close on timers of
        # their own.
        database = database_url().removeprefix("sqlite:///")
        files = [link for link in open_files(self.gateway) if not link.startswith(database)]
        return len(files) - self.mock.open_connections

    def assert_nothing_left(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.upstream_free_fds() <= self.fds and tasks(self.gateway) <= self.tasks:
                return
            time.sleep(0.1)
        raise AssertionError(
            f"fds {self.upstream_free_fds()} (was {self.fds}), "
            f"tasks {tasks(self.gateway)} (was {self.tasks}), open: {open_files(self.gateway)}"
        )


def open_files(gateway: Gateway) -> list[str]:
    """What the gateway's descriptors point at, for a failure message."""
    links = []
    for fd in os.listdir(f"/proc/{gateway.process.pid}/fd"):
        with contextlib.suppress(OSError):
            links.append(os.readlink(f"/proc/{gateway.process.pid}/fd/{fd}"))
    return sorted(links)


def tasks(gateway: Gateway) -> int:
    text = httpx.get(f"{gateway.url}/metrics").text
    return int(float(re.search(r"^headroom_event_loop_tasks (\S+)$", text, re.M).group(1)))


@pytest.fixture
def baseline(gateway: Gateway, mock_upstream: MockUpstream) -> Baseline:
    return Baseline(gateway, mock_upstream)


def route(gateway: Gateway, **fields: object) -> None:
    UpstreamRoute.objects.all().delete()
    UpstreamRoute.objects.create(model_prefix="*", **fields)
    time.sleep(ROUTE_PICKUP_SECONDS)


def post(gateway: Gateway, body: dict, path: str = "/v1/chat/completions") -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.post(f"{gateway.url}{path}", json=body, headers=AUTH)


def row_of(response: httpx.Response) -> RequestLog:
    request_id = response.headers["x-headroom-request-id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = RequestLog.objects.filter(request_id=request_id).first()
        if row is not None:
            return row
        time.sleep(0.1)
    raise AssertionError(f"no row for request {request_id}")


def openai_error_events(body: bytes) -> list[dict]:
    return [
        json.loads(line[6:])
        for line in body.decode().splitlines()
        if line.startswith("data: {") and '"error"' in line
    ]


# Before any byte: the client gets a status in the family's error shape.


def test_a_refused_connection_is_retried_then_a_502(gateway: Gateway, baseline: Baseline) -> None:
    route(gateway, upstream=f"http://127.0.0.1:{free_port()}", retries=1)

    response = post(gateway, CHAT)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"
    row = row_of(response)
    assert (row.status, row.error_type, row.attempts) == (502, "upstream_unreachable", 2)
    baseline.assert_nothing_left()


def test_a_refused_connection_falls_back_to_the_next_route(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    UpstreamRoute.objects.all().delete()
    UpstreamRoute.objects.create(
        position=0,
        model_prefix="gpt-",
        upstream=f"http://127.0.0.1:{free_port()}",
        retries=0,
        fallback="backup-",
    )
    UpstreamRoute.objects.create(position=1, model_prefix="backup-", upstream=mock_upstream.url)
    time.sleep(ROUTE_PICKUP_SECONDS)

    response = post(gateway, CHAT)

    assert response.status_code == 200 and response.headers["x-headroom-route"] == "backup-"
    row = row_of(response)
    assert (row.status, row.attempts, row.route_label, row.answered_route) == (
        200,
        2,
        "gpt-",
        "backup-",
    )
    baseline.assert_nothing_left()


def test_a_connect_timeout_is_a_504(gateway: Gateway, baseline: Baseline) -> None:
    # A listener that never accepts, its backlog already full: connections to it hang.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
        port = listener.getsockname()[1]
        route(gateway, upstream=f"http://127.0.0.1:{port}", connect_timeout=0.5, retries=0)

        response = post(gateway, CHAT)

        for filler in fillers:
            filler.close()
    assert response.status_code == 504
    assert response.json()["error"]["message"] == "timed out connecting to the upstream"
    row = row_of(response)
    assert (row.status, row.error_type) == (504, "upstream_timeout")
    baseline.assert_nothing_left()


def test_no_response_headers_is_retried_then_a_502(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    route(gateway, upstream=mock_upstream.url)
    mock_upstream.reply_with(Reply(close=True))

    response = post(gateway, CHAT)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_closed"
    assert len(mock_upstream.requests) == 3
    assert row_of(response).attempts == 3
    baseline.assert_nothing_left()


def test_a_5xx_with_an_html_body_is_retried_then_relayed_as_it_came(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    route(gateway, upstream=mock_upstream.url)
    mock_upstream.reply_with(Reply(502, [("content-type", "text/html")], b"<html>bad gw</html>"))

    response = post(gateway, CHAT)

    assert (response.status_code, response.text) == (502, "<html>bad gw</html>")
    row = row_of(response)
    assert (row.status, row.error_type, row.attempts) == (502, "", 3)
    baseline.assert_nothing_left()


def test_a_reset_mid_body_is_a_502(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    route(gateway, upstream=mock_upstream.url, retries=0)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n"
    mock_upstream.reply_with(Reply(raw=head + b'{"partial": ', reset=True))

    response = post(gateway, CHAT)

    assert response.status_code == 502
    assert response.json()["error"]["type"]
    assert row_of(response).status == 502
    baseline.assert_nothing_left()


def test_a_reset_mid_stream_ends_it_with_an_openai_error_event(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    route(gateway, upstream=mock_upstream.url)
    reply = Reply.sse(CHAT_STREAM[:1])
    reply.reset = True
    mock_upstream.reply_with(reply)

    response = post(gateway, STREAM)

    assert response.status_code == 200
    assert response.content.startswith(CHAT_STREAM[0])
    [event] = openai_error_events(response.content)
    assert event["error"]["code"] == "upstream_closed"
    row = row_of(response)
    assert (row.error_type, row.disconnected) == ("upstream_closed", False)
    baseline.assert_nothing_left()


def test_a_reset_mid_stream_ends_it_with_an_anthropic_error_event(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    route(gateway, upstream=mock_upstream.url, protocol="anthropic")
    reply = Reply.sse(MESSAGE_STREAM[:2])
    reply.reset = True
    mock_upstream.reply_with(reply)

    response = post(gateway, {**MESSAGE, "stream": True}, "/v1/messages")

    assert response.status_code == 200
    tail = response.content.decode().split("\n\n")[-2]
    assert tail.startswith("event: error\ndata: ")
    assert json.loads(tail.split("data: ", 1)[1])["error"]["type"] == "api_error"
    assert row_of(response).error_type == "upstream_closed"
    baseline.assert_nothing_left()


def test_a_stream_without_its_final_event_ends_with_an_error_event(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    route(gateway, upstream=mock_upstream.url, cache_ttl=60)
    mock_upstream.reply_with(Reply.sse(CHAT_STREAM[:2]))

    response = post(gateway, STREAM)

    assert response.content.startswith(b"".join(CHAT_STREAM[:2]))
    [event] = openai_error_events(response.content)
    assert event["error"]["code"] == "upstream_incomplete"
    assert row_of(response).error_type == "upstream_incomplete"
    # An incomplete answer is never cached.
    assert post(gateway, STREAM).headers["x-headroom-cache"] == "miss"
    baseline.assert_nothing_left()


def test_a_stream_dripping_a_byte_a_second_ends_at_its_idle_timeout(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    route(gateway, upstream=mock_upstream.url, idle_timeout=0.5)
    drip = [(1.0, b":") for _ in range(10)]
    mock_upstream.reply_with(Reply(200, [("content-type", "text/event-stream")], chunks=drip))

    response = post(gateway, STREAM)

    [event] = openai_error_events(response.content)
    assert event["error"]["code"] == "upstream_idle"
    assert row_of(response).error_type == "upstream_idle"
    assert mock_upstream.wait_for_disconnect()
    baseline.assert_nothing_left()


def test_an_invalid_content_length_is_a_502(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    route(gateway, upstream=mock_upstream.url, retries=0)
    mock_upstream.reply_with(Reply(raw=b"HTTP/1.1 200 OK\r\ncontent-length: 12abc\r\n\r\n{}"))

    response = post(gateway, CHAT)

    assert response.status_code == 502
    assert response.json()["error"]["type"]
    assert row_of(response).status == 502
    baseline.assert_nothing_left()


def test_a_declared_body_over_the_limit_is_refused_before_any_byte(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    route(gateway, upstream=mock_upstream.url)
    mock_upstream.reply_with(Reply(200, [("content-type", "application/json")], b"x" * 70_000))

    response = post(gateway, CHAT)

    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_too_large"
    assert row_of(response).error_type == "upstream_too_large"
    baseline.assert_nothing_left()


def test_a_stream_over_the_limit_is_cut_off_with_an_error_event(
    gateway: Gateway, mock_upstream: MockUpstream, baseline: Baseline
) -> None:
    route(gateway, upstream=mock_upstream.url)
    event = b'data: {"choices":[{"delta":{"content":"' + b"y" * 8000 + b'"}}]}\n\n'
    mock_upstream.reply_with(Reply.sse([event] * 20))

    response = post(gateway, STREAM)

    assert response.status_code == 200
    assert len(response.content) < RESPONSE_LIMIT + 10_000
    [error] = openai_error_events(response.content)
    assert error["error"]["code"] == "upstream_too_large"
    assert row_of(response).error_type == "upstream_too_large"
    baseline.assert_nothing_left()


class DNSFailureTests(TestCase):
    """A name that does not resolve, through the real transport in this process (the name is
    answered here, so no query leaves the machine)."""

    @pytest.fixture(autouse=True)
    def _real_transport(self) -> Iterator[None]:
        upstream._transport = None
        yield
        async_to_sync(upstream.reset_client)()

    async def test_a_dns_failure_is_retried_then_a_502(self) -> None:
        await UpstreamRoute.objects.acreate(
            model_prefix="*", upstream="http://upstream.example.invalid", retries=1
        )
        asked: list[str] = []

        async def no_such_name(loop: object, host: str, *args: object, **kwargs: object) -> list:
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

        fds = len(os.listdir("/proc/self/fd"))
        with mock.patch.object(asyncio.BaseEventLoop, "getaddrinfo", no_such_name):
            response = await self.async_client.post(
                "/v1/chat/completions",
                json.dumps(CHAT),
                content_type="application/json",
                headers=AUTH,
            )

        assert response.status_code == 502
        assert response.json()["error"]["code"] == "upstream_unreachable"
        assert asked == ["upstream.example.invalid"] * 2
        await sync_to_async(writer.flush)()
        row = await RequestLog.objects.aget()
        assert (row.status, row.error_type, row.attempts) == (502, "upstream_unreachable", 2)
        assert len(os.listdir("/proc/self/fd")) <= fds
