"""End to end: hostile bodies through the real gateway under Daphne. A tool result built to make
the compressor backtrack is answered; a body whose compression outlasts the time limit goes to
the upstream byte for byte, its row says why, and the same body gets the same decision again; a
body over the compression size bound is forwarded without being read."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from requestlog.models import RequestLog
from tests.conftest import Gateway, start_gateway, stop_gateway
from tests.mock_upstream import MockUpstream, Reply

AUTH = {"authorization": "Bearer sk-client", "content-type": "application/json"}
ANSWER = {"id": "c", "object": "chat.completion", "choices": [], "usage": {"prompt_tokens": 9}}
ROW_WAIT_SECONDS = 10.0
# Far too short for the engine to thin megabytes of log (several times this here), and several
# times what the worker needs to parse such a body, which is one long string.
TIME_LIMIT_MS = 100
SIZE_BOUND = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def hurried(
    django_db_setup: None,
    upstream_pool: list[MockUpstream],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Gateway]:
    log_path = tmp_path_factory.mktemp("isolation-e2e") / "gateway.log"
    server = start_gateway(
        log_path,
        {
            "HEADROOM_BODY_TIME_LIMIT_MS": str(TIME_LIMIT_MS),
            "HEADROOM_COMPRESSION_MAX_BYTES": str(SIZE_BOUND),
            "HEADROOM_COMPRESSION_BUDGET_MS": "0",
        },
    )
    yield server
    stop_gateway(server)


def chat(model: str, output: str) -> bytes:
    message = {"role": "tool", "tool_call_id": "call_1", "content": output}
    return json.dumps({"model": model, "messages": [message]}).encode()


def log_text(lines: int) -> str:
    return "\n".join(
        f"2026-01-01 12:00:{n % 60:02d} INFO worker {n} step done in {n % 97} ms"
        for n in range(lines)
    )


def send(gateway: Gateway, mock: MockUpstream, body: bytes) -> bytes:
    """Post one body; the bytes the upstream received."""
    seen = len(mock.requests)
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions", content=body, headers=AUTH, timeout=60
    )
    assert response.status_code == 200, response.text
    assert len(mock.requests) == seen + 1
    return mock.requests[-1].body


def notes(model: str, count: int) -> list[str]:
    """The savings notes of the model's rows, once the writer has saved all `count`."""
    deadline = time.monotonic() + ROW_WAIT_SECONDS
    rows = list(RequestLog.objects.filter(model=model).order_by("id"))
    while len(rows) < count and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = list(RequestLog.objects.filter(model=model).order_by("id"))
    assert len(rows) == count, f"{len(rows)} of {count} rows were written"
    return [row.savings_note for row in rows]


@pytest.fixture
def model(hurried: Gateway, mock_upstream: MockUpstream, transactional_db: None) -> str:
    hurried.routes(
        {"model_prefix": "iso-", "upstream": mock_upstream.url, "compression": "aggressive"}
    )
    mock_upstream.reply_with(Reply.json(ANSWER))
    return f"iso-{uuid.uuid4().hex[:10]}"


def test_a_log_with_a_long_overdrawn_line_is_answered_and_compressed(
    hurried: Gateway, mock_upstream: MockUpstream, model: str
) -> None:
    # The 70 KB tool result that froze the gateway: one long line with a carriage return in it.
    overdrawn = "2026-01-01 12:00:00 INFO step=" + "a" * 30_000 + "\r" + "b" * 30_000
    output = "\n".join([overdrawn, *(f"ERROR failed at step {n}" for n in range(400))])
    body = chat(model, output)

    sent = send(hurried, mock_upstream, body)

    assert len(sent) < len(body)
    assert notes(model, 1) == ["compressed"]


def test_a_body_past_the_time_limit_goes_unchanged_and_again_next_time(
    hurried: Gateway, mock_upstream: MockUpstream, model: str
) -> None:
    body = chat(model, log_text(80_000))
    assert len(body) < SIZE_BOUND

    first = send(hurried, mock_upstream, body)
    second = send(hurried, mock_upstream, body)

    assert first == second == body
    assert notes(model, 2) == ["time_limit", "time_limit"]


def test_a_body_over_the_size_bound_goes_unchanged_without_being_read(
    hurried: Gateway, mock_upstream: MockUpstream, model: str
) -> None:
    body = chat(model, "word " * (SIZE_BOUND // 4))

    assert send(hurried, mock_upstream, body) == body
    assert notes(model, 1) == ["too_large"]
