"""The dashboard's layout in a real browser at a phone's, a tablet's and a laptop's width.

Nothing may overflow the viewport (no sideways scrolling, no element wider than the screen), first
on a gateway that has logged nothing (the first-request panel) and then with a day of traffic.
Each state is saved as a screenshot; with HEADROOM_SCREENSHOTS=docs/screenshots they refresh the
pictures the README shows.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from requestlog.models import CostSource, RequestLog
from tests.conftest import Gateway
from tests.dashboard.test_dashboard_browser import TIMEOUT_MS, browser  # noqa: F401
from tests.dashboard.test_stats import seed_row

# Screenshots go to a temporary folder; HEADROOM_SCREENSHOTS=docs/screenshots refreshes the
# README's pictures instead (a plain test run leaves the work tree as it was).
SCREENSHOTS = Path(
    os.environ.get("HEADROOM_SCREENSHOTS") or Path(tempfile.gettempdir()) / "headroom-screenshots"
).resolve()
VIEWPORTS = {"phone": (390, 844), "tablet": (768, 1024), "laptop": (1440, 900)}

# Every rendered element whose box leaves the viewport sideways, and the page's scroll width.
OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) { continue; }
    if (box.left < -0.5 || box.right > width + 0.5) {
      wide.push(`${element.tagName.toLowerCase()}#${element.id}.${element.className}`
                + ` ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.scrollingElement.scrollWidth, width: width, wide: wide};
}"""


def outside_the_browser_loop(write: Callable[[], object]) -> None:
    """Run a database write on another thread: Playwright's sync API keeps an event loop running
    on this one, where Django refuses synchronous queries."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(write).result()


def assert_nothing_overflows(page: Page) -> None:
    layout = page.evaluate(OVERFLOW)
    assert layout["scrollWidth"] <= layout["width"], layout
    assert layout["wide"] == [], layout["wide"][:10]


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def a_day_of_traffic() -> list[RequestLog]:
    """Rows over the last 24 hours, one of a model without a price."""
    rng = random.Random(16)
    now = timezone.now()
    rows = [seed_row(rng, now - timedelta(minutes=rng.uniform(1, 23 * 60))) for _ in range(160)]
    rows.append(seed_row(rng, now, model="gpt-5", cost_source=CostSource.UNPRICED, cost_usd=None))
    return rows


def open_dashboard(chromium: Browser, gateway: Gateway, size: tuple[int, int]) -> Page:
    outside_the_browser_loop(
        lambda: User.objects.create_user("ops", password="dashboard-pw-1", is_staff=True)
    )
    page = chromium.new_page(viewport={"width": size[0], "height": size[1]})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{gateway.url}/dashboard/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "dashboard-pw-1")
    page.click("input[type=submit]")
    page.wait_for_url(f"{gateway.url}/dashboard/")
    return page


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_the_dashboard_fits_the_screen_before_and_after_the_first_requests(
    gateway: Gateway,
    browser: Browser,  # noqa: F811
    device: str,
) -> None:
    width, height = VIEWPORTS[device]
    page = open_dashboard(browser, gateway, (width, height))

    assert page.locator("#connect").get_attribute("open") is not None
    assert page.locator("#base-url").inner_text() == gateway.url
    assert_nothing_overflows(page)
    screenshot(page, f"dashboard-first-request-{width}")
    page.click('[data-copy="snippet-claude-code"]')
    expect(page.locator('[data-copy="snippet-claude-code"]')).to_have_text("Copied")

    outside_the_browser_loop(lambda: RequestLog.objects.add_rows(a_day_of_traffic()))
    page.reload()
    page.evaluate("window.scrollTo(0, 0)")  # the reload keeps the place of the Copy button
    assert page.locator('[data-tile="requests"] .value').inner_text() == "161"
    assert_nothing_overflows(page)
    screenshot(page, f"dashboard-{width}")

    # The custom dates and the SQL behind a figure open in place and still fit.
    page.click('summary[data-range="custom"]')
    assert page.locator('.ranges input[name="from"]').is_visible()
    page.click('[data-tile="spend"] details.how summary')
    assert "cost_source" in page.locator('[data-tile="spend"] details.how code').inner_text()
    assert_nothing_overflows(page)
