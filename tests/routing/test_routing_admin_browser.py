"""The route list in a real browser on a 1440 px screen: every column can be seen without
scrolling sideways, the shadowed-route warning included. The screenshot goes where the dashboard's
layout test puts its own (HEADROOM_SCREENSHOTS).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Browser

from routing.admin import UpstreamRouteAdmin
from routing.models import UpstreamRoute
from tests.conftest import Gateway
from tests.dashboard.test_dashboard_browser import TIMEOUT_MS, browser  # noqa: F401
from tests.dashboard.test_layout_browser import (
    assert_nothing_overflows,
    outside_the_browser_loop,
    screenshot,
)

# A table as an operator might keep it: long upstreams, an unset key variable, a shadowed route.
ROUTES = [
    {
        "model_prefix": "claude-",
        "upstream": "https://api.anthropic.com",
        "protocol": "anthropic",
        "auth": "env:HR_TEST_ANTHROPIC_KEY",
        "compression": "aggressive",
        "cache_ttl": 300,
    },
    {
        "model_prefix": "glm-",
        "upstream": "https://ollama.com",
        "auth": "env:OLLAMA_API_KEY",
        "strip_prefix": True,
    },
    {
        "model_prefix": "gemini-",
        "upstream": "https://generativelanguage.googleapis.com",
        "protocol": "gemini",
        "auth": "env:HR_TEST_GEMINI_KEY",
    },
    {"model_prefix": "claude-sonnet-", "upstream": "https://bedrock-proxy.internal.example.com"},
    {"model_prefix": "*", "auth": "passthrough"},
]


def make_admin_and_routes() -> None:
    User.objects.create_superuser("root", password="admin-pw-1")
    for position, fields in enumerate(ROUTES):
        UpstreamRoute.objects.create(position=position * 10, **fields)


def test_every_route_list_column_is_visible_on_a_1440_px_screen(
    gateway: Gateway,
    browser: Browser,  # noqa: F811
) -> None:
    outside_the_browser_loop(make_admin_and_routes)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{gateway.url}/admin/routing/upstreamroute/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "admin-pw-1")
    page.click("input[type=submit]")
    page.wait_for_url(f"{gateway.url}/admin/routing/upstreamroute/")
    screenshot(page, "admin-routes-1440")

    headers = page.locator("#result_list thead th")
    # The selection box and every column of the list.
    assert headers.count() == len(UpstreamRouteAdmin.list_display) + 1
    for index in range(headers.count()):
        box = headers.nth(index).bounding_box()
        assert box is not None and box["width"] > 0, headers.nth(index).inner_text()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1440, headers.nth(index).inner_text()
    assert page.locator("#result_list", has_text="by claude- at position 0").count() == 1
    assert page.locator("#result_list .env-unset").inner_text() == "unset"
    assert_nothing_overflows(page)
