"""Prices and cost: longest-prefix matching, each token kind at its rate, unpriced stays NULL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from requestlog import pricing
from requestlog.models import CostSource, ModelPrice
from requestlog.pricing import Rate
from requestlog.usage import Usage

# $1 / $2 / $0.10 / $1.25 per million: easy sums.
RATE = Rate("test-", Decimal(1), Decimal(2), Decimal("0.10"), Decimal("1.25"))


def rate(pattern: str) -> Rate:
    return Rate(pattern, Decimal(1), Decimal(1), Decimal(1), Decimal(1))


@pytest.fixture(autouse=True)
def _fresh_prices() -> Iterator[None]:
    # The per-worker table outlives each test's rolled-back rows.
    pricing.invalidate()
    yield
    pricing.invalidate()


def test_the_longest_matching_prefix_wins() -> None:
    table = (rate("gpt-4o-mini"), rate("gpt-4o"))
    assert pricing.match("gpt-4o-mini-2024-07-18", table).pattern == "gpt-4o-mini"
    assert pricing.match("gpt-4o-2024-08-06", table).pattern == "gpt-4o"


def test_matching_ignores_case_and_surrounding_space() -> None:
    assert pricing.match(" GPT-4o ", (rate("gpt-4o"),)).pattern == "gpt-4o"


def test_an_empty_or_unknown_model_has_no_price() -> None:
    table = (rate("gpt-4o"),)
    assert (pricing.match("", table), pricing.match("glm-4.6", table)) == (None, None)


def test_each_token_kind_is_priced_at_its_own_rate() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_read_tokens=1_000_000,
        cache_write_tokens=1_000_000,
    )
    cost = pricing.compute(RATE, usage)
    assert cost == pricing.Cost(Decimal("4.35"), Decimal(0), CostSource.PRICED)


def test_a_small_request_keeps_sub_cent_precision() -> None:
    cost = pricing.compute(RATE, Usage(input_tokens=3, output_tokens=2))
    assert cost.cost_usd == Decimal("0.0000070000")


def test_a_model_without_a_price_is_unpriced_not_zero() -> None:
    cost = pricing.compute(None, Usage(input_tokens=100), tokens_before=10, tokens_after=5)
    assert (cost.cost_usd, cost.saved_usd, cost.source) == (None, None, "unpriced")


def test_saved_tokens_are_priced_at_the_input_rate() -> None:
    usage = Usage(input_tokens=600_000)
    cost = pricing.compute(RATE, usage, tokens_before=1_000_000, tokens_after=600_000)
    assert (cost.cost_usd, cost.saved_usd) == (Decimal("0.6"), Decimal("0.4"))


def test_without_billed_usage_the_engine_estimate_is_priced_as_estimated() -> None:
    cost = pricing.compute(RATE, None, tokens_before=2_000_000, tokens_after=1_000_000)
    assert (cost.cost_usd, cost.saved_usd, cost.source) == (Decimal(1), Decimal(1), "estimated")


def test_a_request_with_nothing_billed_costs_zero() -> None:
    assert pricing.compute(RATE, None) == pricing.Cost(Decimal(0), Decimal(0), "priced")


def test_a_cache_hit_costs_nothing_and_saves_the_whole_cost() -> None:
    cost = pricing.compute(
        RATE, Usage(input_tokens=1_000_000, output_tokens=500_000), cache_hit=True
    )
    assert (cost.cost_usd, cost.saved_usd) == (Decimal(0), Decimal(2))


@pytest.mark.django_db
def test_blank_cache_rates_fall_back_to_the_input_rate() -> None:
    row = ModelPrice(pattern="x-", input_per_mtok=Decimal(3), output_per_mtok=Decimal(9))
    assert (Rate.from_row(row).cache_read, Rate.from_row(row).cache_write) == (3, 3)


@pytest.mark.django_db
def test_the_forwarded_model_is_priced_before_the_name_the_client_sent() -> None:
    ModelPrice.objects.create(pattern="route-a:", input_per_mtok=5, output_per_mtok=5)
    ModelPrice.objects.create(pattern="zz-model", input_per_mtok=7, output_per_mtok=7)
    assert pricing.find_rate("zz-model", "route-a:zz-model").input == 7
    assert pricing.find_rate("", "route-a:zz-model").input == 5


@pytest.mark.django_db
def test_the_price_table_is_read_once_per_worker() -> None:
    pricing.find_rate("gpt-4o")
    with CaptureQueriesContext(connection) as queries:
        pricing.find_rate("gpt-4o")
        pricing.find_rate("claude-sonnet-4-5")
    assert len(queries) == 0


@pytest.mark.django_db
def test_editing_a_price_applies_at_once() -> None:
    price = ModelPrice.objects.create(pattern="edit-me", input_per_mtok=1, output_per_mtok=1)
    assert pricing.find_rate("edit-me-1").input == 1
    price.input_per_mtok = Decimal(4)
    price.save()
    assert pricing.find_rate("edit-me-1").input == 4
    price.delete()
    assert pricing.find_rate("edit-me-1") is None


@pytest.mark.django_db(transaction=True)
def test_a_price_edited_by_another_worker_applies_within_a_poll(settings: object) -> None:
    ModelPrice.objects.create(pattern="polled-", input_per_mtok=1, output_per_mtok=1)
    assert pricing.find_rate("polled-1").input == 1
    # update() sends no signal: only the poller can notice, as for another worker's edit.
    ModelPrice.objects.filter(pattern="polled-").update(input_per_mtok=3)
    settings.HEADROOM_ROUTES_POLL_SECONDS = 0.05  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and pricing.find_rate("polled-1").input == 1:
        time.sleep(0.02)
    settings.HEADROOM_ROUTES_POLL_SECONDS = 0  # type: ignore[attr-defined]
    assert pricing.find_rate("polled-1").input == 3
    # Let the thread see the switch-off before the test database goes away.
    time.sleep(0.1)


@pytest.mark.django_db
def test_the_seed_prices_the_main_models_of_each_provider() -> None:
    expected = {
        "gpt-4o-mini-2024-07-18": (Decimal("0.15"), Decimal("0.6"), Decimal("0.075")),
        "claude-sonnet-4-5-20250929": (Decimal(3), Decimal(15), Decimal("0.3")),
        "gemini-2.5-flash": (Decimal("0.3"), Decimal("2.5"), Decimal("0.03")),
    }
    found = {}
    for model in expected:
        found_rate = pricing.find_rate(model)
        found[model] = (found_rate.input, found_rate.output, found_rate.cache_read)
    assert found == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "rates"),
    [
        ("o3-pro-2025-06-10", (20, 80)),
        ("o3-2025-04-16", (2, 8)),
        ("o1-pro", (150, 600)),
        ("gpt-5-pro", (15, 120)),
        ("gpt-5-2025-08-07", (Decimal("1.25"), 10)),
    ],
)
def test_a_longer_model_name_is_not_billed_at_its_shorter_siblings_rate(
    model: str, rates: tuple
) -> None:
    rate = pricing.find_rate(model)
    assert (rate.input, rate.output) == rates
