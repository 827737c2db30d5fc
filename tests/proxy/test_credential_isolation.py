"""Credential isolation, end to end: a session through the real server with a distinctive fake
secret in every credential position, then every log line, table, admin page, the dashboard and
/metrics are searched for them. None may appear anywhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone

from keys import issuing
from keys.models import GatewayKey
from requestlog.models import RequestLog
from routing.models import AllowedUpstream
from tests.conftest import (
    ROUTE_PICKUP_SECONDS,
    Gateway,
    free_port,
    start_gateway,
    stop_gateway,
)
from tests.mock_upstream import MockUpstream, Reply

# Every fake secret carries the marker, so a leak of any part of one is easy to tell apart.
MARKER = "ISO7F3A"
ENV = {
    "HR_ISO_OPENAI": f"sk-env-openai-{MARKER}-01",
    "HR_ISO_ANTHROPIC": f"sk-ant-env-{MARKER}-02",
    "HR_ISO_GEMINI": f"AIza-env-gemini-{MARKER}-03",
}
CLIENT = {
    "authorization": f"sk-client-bearer-{MARKER}-04",
    "x-api-key": f"sk-ant-client-{MARKER}-05",
    "api-key": f"azure-client-{MARKER}-06",
    "x-goog-api-key": f"AIza-client-goog-{MARKER}-07",
    "query": f"AIza-client-query-{MARKER}-08",
    "unknown-gateway-key": f"hr-unknown-{MARKER}-09",
}
KEY_SECRET = f"server-key-secret-{MARKER}-10"
# Change pages opened per model (the seeded price list alone has dozens of rows).
PAGES_PER_MODEL = 20
CHAT = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-5",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 2},
}
MESSAGE_STREAM = [
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message",'
    b'"role":"assistant","model":"claude-sonnet-4","content":[],"stop_reason":null,'
    b'"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
    b'"stop_sequence":null},"usage":{"output_tokens":2}}\n\n',
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]
GEMINI = {
    "candidates": [{"content": {"parts": [{"text": "hi"}], "role": "model"}}],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2},
}


@pytest.fixture
def isolated_gateway(
    django_db_setup: None,
    transactional_db: None,
    upstream_pool: list[MockUpstream],
    tmp_path: Path,
    settings: object,
) -> Iterator[Gateway]:
    # The keys are hashed here and checked there: both sides use the same server secret.
    settings.HEADROOM_KEY_SECRET = KEY_SECRET  # type: ignore[attr-defined]
    extra = {**ENV, "HEADROOM_KEY_SECRET": KEY_SECRET, "HEADROOM_LOG_FLUSH_SECONDS": "0.1"}
    server = start_gateway(tmp_path / "gateway.log", extra, defaults_url=upstream_pool[3].url)
    yield server
    stop_gateway(server)


def set_up(gateway: Gateway, mocks: list[MockUpstream]) -> dict[str, str]:
    """Routes of every credential mode, two teams' keys and one rate-limited key."""
    gpt, claude, gem = mocks
    gpt.reply_with(Reply.json(CHAT))
    claude.reply_with(
        lambda request: (
            Reply.sse(MESSAGE_STREAM) if b'"stream"' in request.body else Reply.json(MESSAGE)
        )
    )
    gem.reply_with(Reply.json(GEMINI))
    AllowedUpstream.objects.create(url=gpt.url, notes="allowed for the isolation test")
    gateway.routes(
        {"model_prefix": "gpt-", "upstream": gpt.url, "auth": "env:HR_ISO_OPENAI"},
        {
            "model_prefix": "claude-",
            "upstream": claude.url,
            "protocol": "anthropic",
            "auth": "env:HR_ISO_ANTHROPIC",
        },
        {
            "model_prefix": "gemini-",
            "upstream": gem.url,
            "protocol": "gemini",
            "auth": "env:HR_ISO_GEMINI",
        },
        {"model_prefix": "pass-", "upstream": gpt.url},
        {"model_prefix": "dead-", "upstream": f"http://127.0.0.1:{free_port()}"},
        {"model_prefix": "*", "upstream": gem.url, "protocol": "gemini"},
    )
    secrets = {}
    for team, fields in (("team-a", {}), ("team-b", {}), ("team-c", {"requests_per_minute": 1})):
        _, secrets[team] = issuing.issue(team=team, name=f"{team} laptop", **fields)
    time.sleep(ROUTE_PICKUP_SECONDS)
    return secrets


def run_session(gateway: Gateway, secrets: dict[str, str]) -> tuple[list[int], str]:
    """One request per credential position and per kind of refusal; returns the statuses, and
    the headers and bodies of the raw requests' answers (the refusals among them)."""
    # The rate-limited key's two requests must fall in one minute window.
    if time.time() % 60 > 50:
        time.sleep(60.5 - time.time() % 60)
    base, statuses, answers = gateway.url, [], []
    with openai.OpenAI(base_url=f"{base}/v1", api_key=secrets["team-a"], max_retries=0) as sdk:
        sdk.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
        statuses.append(200)
    with anthropic.Anthropic(base_url=base, api_key=secrets["team-b"], max_retries=0) as sdk:
        sdk.messages.create(
            model="claude-sonnet-4", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
        with sdk.messages.stream(
            model="claude-sonnet-4", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            stream.until_done()
        statuses += [200, 200]
    chat = json.dumps({"model": "pass-1", "messages": []}).encode()
    passthrough = {
        "authorization": f"Bearer {CLIENT['authorization']}",
        "api-key": CLIENT["api-key"],
        "x-headroom-key": secrets["team-a"],
    }
    requests = [
        ("/v1/chat/completions", chat, passthrough),
        (
            "/v1/messages",
            json.dumps({"model": "claude-x", "max_tokens": 5, "messages": []}).encode(),
            {"x-api-key": CLIENT["x-api-key"], "x-headroom-key": secrets["team-c"]},
        ),
        (
            f"/v1beta/models/gemma-3:generateContent?key={CLIENT['query']}",
            b"{}",
            {"x-headroom-key": secrets["team-b"]},
        ),
        (
            f"/v1beta/models/gemini-2.5-pro:generateContent?key={CLIENT['query']}",
            b"{}",
            {"x-goog-api-key": CLIENT["x-goog-api-key"]},
        ),
        # Refusals: unknown key, over the rate, forbidden override, dead upstream, no such path.
        ("/v1/chat/completions", chat, {"x-headroom-key": CLIENT["unknown-gateway-key"]}),
        (
            "/v1/messages",
            json.dumps({"model": "claude-x", "max_tokens": 5, "messages": []}).encode(),
            {"x-api-key": secrets["team-c"]},
        ),
        ("/v1/chat/completions", chat, passthrough | {"x-headroom-base-url": "http://10.0.0.1"}),
        (
            "/v1/chat/completions",
            json.dumps({"model": "dead-1", "messages": []}).encode(),
            passthrough,
        ),
        (f"/v2/nothing?key={CLIENT['query']}", b"{}", passthrough),
    ]
    for path, body, headers in requests:
        reply = httpx.post(
            base + path, content=body, headers={"content-type": "application/json", **headers}
        )
        statuses.append(reply.status_code)
        answers.append(f"{reply.headers!r}\n{reply.text}")
    return statuses, "\n".join(answers)


def database_text() -> str:
    """Every row of every table, as text."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            parts.append(f"{table}: {cursor.fetchall()!r}")
    return "\n".join(parts)


def admin_and_dashboard_text() -> str:
    """Every admin list and change page of every registered model, the dashboard and its data."""
    client = Client()
    client.force_login(User.objects.create_superuser("iso-admin", "a@example.com", "pw"))
    pages = ["/admin/", "/dashboard/", "/dashboard/live.json", "/dashboard/export/requests.csv"]
    for model in admin.site._registry:
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        pages.append(base)
        rows = model.objects.values_list("pk", flat=True)[:PAGES_PER_MODEL]
        pages += [f"{base}{pk}/change/" for pk in rows]
    texts = []
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        texts.append(b"".join(response) if response.streaming else response.content)
    return b"\n".join(texts).decode(errors="replace")


def leaked(text: str, secrets: dict[str, str]) -> list[str]:
    """Which secrets, or their parts past a display prefix, appear in the text."""
    found = [name for name, value in {**ENV, **CLIENT}.items() if value in text]
    found += [team for team, secret in secrets.items() if secret[8:] in text]
    if MARKER in text:
        found.append(f"the marker {MARKER}")
    if KEY_SECRET in text:
        found.append("HEADROOM_KEY_SECRET")
    return found


def test_no_credential_appears_in_logs_tables_pages_or_metrics(
    isolated_gateway: Gateway, mock_upstreams: list[MockUpstream]
) -> None:
    gateway = isolated_gateway
    secrets = set_up(gateway, mock_upstreams)
    started = timezone.now()
    statuses, answers = run_session(gateway, secrets)
    metrics = httpx.get(f"{gateway.url}/metrics").text
    # A graceful stop writes every queued request-log row before the process ends.
    stop_gateway(gateway)

    assert statuses == [200, 200, 200, 200, 200, 200, 200, 401, 429, 403, 502, 404]
    gpt, claude, gem = mock_upstreams
    # The secrets really travelled: injected keys reached their own upstream, client keys theirs.
    assert gpt.requests[0].header("authorization") == f"Bearer {ENV['HR_ISO_OPENAI']}"
    assert {r.header("x-api-key") for r in claude.requests} == {ENV["HR_ISO_ANTHROPIC"]}
    assert gpt.requests[1].header("authorization") == f"Bearer {CLIENT['authorization']}"
    assert gem.requests[0].query == f"key={CLIENT['query']}"
    assert gem.requests[1].header("x-goog-api-key") == ENV["HR_ISO_GEMINI"]
    upstream_text = repr([(r.path, r.query, r.headers) for m in mock_upstreams for r in m.requests])
    assert not any(secret in upstream_text for secret in secrets.values())
    assert CLIENT["x-goog-api-key"] not in upstream_text

    # Rows of earlier tests on the shared server may land late; this session's are counted.
    rows = list(RequestLog.objects.filter(created__gte=started).order_by("id"))
    assert len(rows) == len(statuses) - 1  # the 404 reached no gateway view
    assert {row.team for row in rows} >= {"team-a", "team-b", "team-c"}
    assert GatewayKey.objects.count() == 3

    log, tables, pages = gateway.log(), database_text(), admin_and_dashboard_text()
    # The scans see the session: its rows, its teams and the keys' display prefixes.
    assert rows[0].request_id in log
    assert "team-a" in tables and secrets["team-a"][:8] in pages
    assert 'status="429"' in metrics
    assert leaked(log, secrets) == []
    assert leaked(tables, secrets) == []
    assert leaked(pages, secrets) == []
    assert leaked(metrics, secrets) == []
    assert "gateway key is not valid" in answers and "error" in answers
    assert leaked(answers, secrets) == []
