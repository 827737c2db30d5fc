"""/metrics (Prometheus text) and /readyz (database and log writer), both cheap."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.db import OperationalError, connection
from django.test import TestCase
from prometheus_client import REGISTRY

from headroom_site.asgi import application
from proxy import metrics, record, upstream
from proxy.exchange import Exchange
from requestlog import writer
from requestlog.usage import Usage
from requestlog.writer import LogWriter

AUTH = {"authorization": "Bearer sk-client"}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """Upstream replies (or exceptions) in order, through the MockTransport seam."""
    replies: list = []

    def handler(request: httpx.Request) -> httpx.Response:
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    monkeypatch.setattr(upstream, "make_transport", lambda: httpx.MockTransport(handler))
    async_to_sync(upstream.reset_client)()
    yield replies
    async_to_sync(upstream.reset_client)()


@pytest.fixture
def running_writer(monkeypatch: pytest.MonkeyPatch, settings: object) -> Iterator[LogWriter]:
    settings.HEADROOM_LOG_FLUSH_SECONDS = 600  # type: ignore[attr-defined]
    own = LogWriter()
    monkeypatch.setattr(writer, "writer", own)
    yield own
    own.stopping.set()
    own.wake.set()
    if own.thread is not None:
        own.thread.join(5)


class MetricsEndpointTests(TestCase):
    @pytest.fixture(autouse=True)
    def _answers(self, answers: list) -> None:
        self.answers = answers

    def chat(self, model: str = "gpt-4o-mini") -> int:
        body = json.dumps({"model": model, "messages": []})
        return self.client.post(
            "/v1/chat/completions", body, content_type="application/json", headers=AUTH
        ).status_code

    def test_a_proxied_request_is_counted_by_family_route_and_status(self) -> None:
        labels = {"family": "openai", "route": "default", "status": "200"}
        before = sample("headroom_requests_total", **labels)
        self.answers.append(httpx.Response(200, json={}))
        self.chat()
        text = self.client.get("/metrics").content.decode()
        assert sample("headroom_requests_total", **labels) - before == 1
        assert 'headroom_requests_total{family="openai",route="default",status="200"}' in text

    async def test_the_metrics_page_is_prometheus_text_served_without_middleware(self) -> None:
        # Through the server's ASGI application, as a scraper reaches it.
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        # Headers the session/security/clickjacking middlewares would have added are absent.
        assert "x-frame-options" not in response.headers
        assert "x-content-type-options" not in response.headers
        assert "vary" not in response.headers and "set-cookie" not in response.headers
        assert "# TYPE headroom_request_duration_seconds histogram" in response.text

    def test_client_model_names_never_become_labels(self) -> None:
        self.answers.append(httpx.Response(200, json={}))
        self.chat(model="unique-client-model-7f3a")
        assert "unique-client-model-7f3a" not in self.client.get("/metrics").content.decode()

    def test_an_unreachable_upstream_is_counted_as_an_upstream_error(self) -> None:
        labels = {"family": "openai", "route": "default", "kind": "upstream_unreachable"}
        before = sample("headroom_upstream_errors_total", **labels)
        self.answers.extend(httpx.ConnectError("refused") for _ in range(3))
        assert self.chat() == 502
        assert sample("headroom_upstream_errors_total", **labels) - before == 1

    def test_a_relayed_upstream_5xx_is_counted_as_an_upstream_error(self) -> None:
        labels = {"family": "openai", "route": "default", "kind": "http_5xx"}
        before = sample("headroom_upstream_errors_total", **labels)
        # The first answer and both retries (a route's default) are counted as one request.
        self.answers.extend(httpx.Response(503, text="busy") for _ in range(3))
        assert self.chat() == 503
        assert sample("headroom_upstream_errors_total", **labels) - before == 1


def test_billed_and_saved_tokens_are_counted() -> None:
    done = Exchange("anthropic", "/v1/messages", "POST", status=200, route_label="claude-")
    done.usage = Usage(input_tokens=10, output_tokens=5, cache_read_tokens=3)
    done.tokens_before, done.tokens_after = 100, 60
    done.ended = done.started
    labels = {"family": "anthropic", "route": "claude-"}
    before = [
        sample("headroom_tokens_billed_total", **labels, kind="input"),
        sample("headroom_tokens_billed_total", **labels, kind="cache_read"),
        sample("headroom_tokens_saved_total", **labels),
    ]
    metrics.observe(done, 200)
    after = [
        sample("headroom_tokens_billed_total", **labels, kind="input"),
        sample("headroom_tokens_billed_total", **labels, kind="cache_read"),
        sample("headroom_tokens_saved_total", **labels),
    ]
    # Saved as the row counts it, calibrated by billed input 13: 100 × 13/60 ≈ 22 before, 13 after.
    assert [b - a for a, b in zip(before, after, strict=True)] == [10, 3, 9]


def test_a_failed_request_saved_no_tokens() -> None:
    done = Exchange("anthropic", "/v1/messages", "POST", status=502, route_label="claude-")
    done.tokens_before, done.tokens_after = 100, 60
    done.ended = done.started
    labels = {"family": "anthropic", "route": "claude-"}
    before = sample("headroom_tokens_saved_total", **labels)
    metrics.observe(done, 502)
    assert sample("headroom_tokens_saved_total", **labels) == before


def test_the_log_queue_depth_is_exported() -> None:
    writer.writer.submit(record.row_values(Exchange("openai", "/v1/x", "GET")), None)
    assert sample("headroom_request_log_queue_depth") == writer.writer.pending() >= 1


@pytest.mark.django_db
def test_readyz_is_ok_when_the_database_answers_and_the_writer_runs(
    client: object, running_writer: LogWriter
) -> None:
    response = client.get("/readyz")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": True,
        "migrations": True,
        "log_writer": True,
    }
    assert running_writer.running


@pytest.mark.django_db
def test_readyz_is_503_when_the_log_writer_is_off(client: object) -> None:
    # The unit-test settings turn the writer thread off (HEADROOM_LOG_FLUSH_SECONDS=0).
    response = client.get("/readyz")  # type: ignore[attr-defined]
    assert (response.status_code, response.json()["log_writer"]) == (503, False)


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_is_unreachable(
    client: object, running_writer: LogWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise OperationalError("unable to open database file")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/readyz")  # type: ignore[attr-defined]
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": False,
        "migrations": False,
        "log_writer": True,
    }
