"""Saved USD at each request's own mix of uncached, cache-read and cache-write input; rows without
billed usage priced as estimated, and kept apart on the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.utils import timezone

from dashboard import stats
from proxy import record
from proxy.exchange import Exchange
from requestlog import pricing, writer
from requestlog.models import CostSource, ModelPrice, RequestLog
from requestlog.pricing import Rate
from requestlog.usage import Usage

# $3 uncached, $15 output, $0.30 cache read, $3.75 cache write per million (a Sonnet-like list).
RATE = Rate("test-", Decimal(3), Decimal(15), Decimal("0.30"), Decimal("3.75"))


@pytest.fixture(autouse=True)
def _fresh_prices() -> Iterator[None]:
    pricing.invalidate()
    yield
    pricing.invalidate()


def test_saved_tokens_of_an_uncached_request_are_priced_at_the_input_rate() -> None:
    usage = Usage(input_tokens=1_000_000)
    cost = pricing.compute(RATE, usage, tokens_before=2_000_000, tokens_after=1_000_000)
    assert cost.saved_usd == Decimal(3)


def test_saved_tokens_are_priced_at_the_requests_mix_of_cache_reads_and_writes() -> None:
    # 10% uncached, 80% read from the cache, 10% written: $0.30 + $0.24 + $0.375 per million.
    usage = Usage(input_tokens=100_000, cache_read_tokens=800_000, cache_write_tokens=100_000)
    cost = pricing.compute(RATE, usage, tokens_before=2_000_000, tokens_after=1_000_000)
    assert cost.saved_usd == Decimal("0.915")


def test_a_request_served_from_the_provider_cache_saves_at_the_cache_read_rate() -> None:
    usage = Usage(cache_read_tokens=1_000_000)
    cost = pricing.compute(RATE, usage, tokens_before=1_500_000, tokens_after=1_000_000)
    assert cost.saved_usd == Decimal("0.15")


def test_a_response_cache_hit_saves_the_original_cost_and_the_compression() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000)
    cost = pricing.compute(
        RATE, usage, tokens_before=2_000_000, tokens_after=1_000_000, cache_hit=True
    )
    assert (cost.cost_usd, cost.saved_usd, cost.source) == (Decimal(0), Decimal("7.5"), "priced")


def test_without_usage_the_estimate_of_the_body_sent_is_priced_as_estimated() -> None:
    cost = pricing.compute(
        RATE, None, tokens_before=3_000_000, tokens_after=2_000_000, estimated_input=2_000_000
    )
    assert (cost.cost_usd, cost.saved_usd, cost.source) == (Decimal(6), Decimal(3), "estimated")


def test_a_request_the_engine_skipped_is_still_estimated_from_its_body() -> None:
    cost = pricing.compute(RATE, None, estimated_input=1_000_000)
    assert (cost.cost_usd, cost.saved_usd, cost.source) == (Decimal(3), Decimal(0), "estimated")


def test_an_unbilled_request_costs_and_saves_nothing() -> None:
    cost = pricing.compute(
        RATE,
        None,
        tokens_before=3_000_000,
        tokens_after=2_000_000,
        estimated_input=2_000_000,
        billed=False,
    )
    assert (cost.cost_usd, cost.saved_usd, cost.source) == (Decimal(0), Decimal(0), "priced")


@pytest.mark.parametrize(
    ("status", "endpoint", "expected"),
    [
        (200, "/v1/chat/completions", True),
        (201, "/v1/responses", True),
        (400, "/v1/messages", False),
        (499, "/v1/messages", False),
        (502, "/v1/messages", False),
        (200, "/v1/messages/count_tokens", False),
        (200, "/v1/responses/input_tokens", False),
        (200, "/v1beta/models/gemini-2.5-pro:countTokens", False),
    ],
)
def test_only_a_2xx_on_a_paid_endpoint_is_billed_without_usage(
    status: int, endpoint: str, expected: bool
) -> None:
    assert pricing.billable(status, endpoint) is expected


def finished(**fields: object) -> Exchange:
    done = Exchange(family="anthropic", endpoint="/v1/messages", method="POST")
    done.model, done.stream, done.status = "test-model", True, 200
    # The client had the stream's first bytes: a disconnect after them keeps the status 200.
    done.mark_first_byte()
    for name, value in fields.items():
        setattr(done, name, value)
    return done


@pytest.mark.django_db
def test_an_aborted_stream_is_written_as_estimated() -> None:
    ModelPrice.objects.create(pattern="test-", input_per_mtok=3, output_per_mtok=15)
    writer.writer.submit(
        record.row_values(
            finished(
                disconnected=True,
                tokens_before=3000,
                tokens_after=1000,
                estimated_input=1000,
                savings_note="compressed",
            )
        ),
        None,
    )
    writer.flush()
    row = RequestLog.objects.get()
    assert (row.cost_source, row.usage_reported) == (CostSource.ESTIMATED, False)
    assert (row.cost_usd, row.saved_usd) == (Decimal("0.003"), Decimal("0.006"))
    assert (row.tokens_before, row.tokens_after) == (3000, 1000)


@pytest.mark.django_db
def test_a_billed_row_is_calibrated_and_saved_at_its_mix() -> None:
    ModelPrice.objects.create(
        pattern="test-",
        input_per_mtok=3,
        output_per_mtok=15,
        cache_read_per_mtok=Decimal("0.30"),
        cache_write_per_mtok=Decimal("3.75"),
    )
    usage = Usage(input_tokens=200, cache_read_tokens=1600, cache_write_tokens=200)
    done = finished(usage=usage, tokens_before=3000, tokens_after=1000, estimated_input=1000)
    writer.writer.submit(record.row_values(done), usage)
    writer.flush()
    row = RequestLog.objects.get()
    # k = 2000 billed / 1000 estimated: 6000 before, 2000 after, 4000 saved at $0.915 per million.
    assert (row.tokens_before, row.tokens_after) == (6000, 2000)
    assert row.saved_usd == Decimal("0.00366")
    assert row.cost_source == CostSource.PRICED


@pytest.mark.django_db
def test_the_dashboard_keeps_estimated_savings_apart_from_priced_ones() -> None:
    ModelPrice.objects.create(pattern="test-", input_per_mtok=3, output_per_mtok=15)
    billed = finished(usage=Usage(input_tokens=1000), tokens_before=2000, tokens_after=1000)
    aborted = finished(
        disconnected=True, tokens_before=4000, tokens_after=1000, estimated_input=1000
    )
    for done in (billed, aborted):
        writer.writer.submit(record.row_values(done), done.usage)
    writer.flush()
    figures = stats.headline(stats.parse_filters({}, now=timezone.now()))
    assert (figures.saved_usd, figures.saved_usd_estimated) == (Decimal("0.003"), Decimal("0.009"))
    assert figures.estimated_requests == 1
