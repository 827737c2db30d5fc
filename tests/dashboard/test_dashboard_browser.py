"""The dashboard in a real browser: headless Chromium (Debian's) against the real gateway.

A staff user logs in, reads the tiles, switches the range, and watches a request proxied through
the gateway appear in the recent rows without a reload. Chromium is /usr/bin/chromium, driven by
Playwright; `.ci/run` installs it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect, sync_playwright

from requestlog.models import RequestLog
from tests.conftest import Gateway
from tests.dashboard.test_stats import seed_row
from tests.mock_upstream import MockUpstream, Reply

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
LIVE_MODEL = "gpt-live-dashboard-check"
CHAT = {
    "id": "chatcmpl-live",
    "object": "chat.completion",
    "created": 1,
    "model": LIVE_MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
    "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15},
}


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def seeded_gateway(gateway: Gateway, mock_upstream: MockUpstream) -> Gateway:
    """Committed data the server sees: a staff user, a route, 3 rows today and 2 last week."""
    User.objects.create_user("ops", password="dashboard-pw-1", is_staff=True)
    gateway.routes({"model_prefix": "*", "upstream": mock_upstream.url})
    mock_upstream.reply_with(Reply.json(CHAT))
    rng = random.Random(11)
    now = timezone.now()
    recent = [seed_row(rng, now - timedelta(minutes=5 * i), model="gpt-5") for i in range(3)]
    older = [seed_row(rng, now - timedelta(days=3), model="gpt-5") for _ in range(2)]
    RequestLog.objects.add_rows(recent + older)
    return gateway


def log_in(page: Page, gateway: Gateway) -> None:
    page.goto(f"{gateway.url}/dashboard/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "dashboard-pw-1")
    page.click("input[type=submit]")
    page.wait_for_url(f"{gateway.url}/dashboard/")


def tile(page: Page, name: str) -> str:
    return page.locator(f'[data-tile="{name}"] .value').inner_text()


def test_a_staff_user_sees_tiles_switches_range_and_a_new_row_arrives_live(
    seeded_gateway: Gateway, browser: Browser
) -> None:
    # Everything the database needs is written above; the browser part only talks HTTP.
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    log_in(page, seeded_gateway)
    assert tile(page, "requests") == "3"

    page.click('.ranges a[data-range="7d"]')
    page.wait_for_url("**/dashboard/?range=7d")
    assert tile(page, "requests") == "5"
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.notReloaded = true")

    reply = httpx.post(
        f"{seeded_gateway.url}/v1/chat/completions",
        json={"model": LIVE_MODEL, "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": "Bearer sk-client-test"},
        timeout=10,
    )
    assert reply.status_code == 200

    row = page.locator("#recent-body tr", has_text=LIVE_MODEL)
    expect(row).to_have_count(1)
    expect(page.locator('[data-tile="requests"] .value')).to_have_text("6")
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#live-status").inner_text() == "live"
    assert "sk-client-test" not in page.content()
