"""The admin: request-log rows are read-only and listed without a full count; prices edit."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from requestlog import pricing
from requestlog.models import ModelPrice, RequestLog

LOGS = "/admin/requestlog/requestlog/"


@pytest.fixture
def staff(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
    return client


@pytest.fixture
def row(db: None) -> RequestLog:
    return RequestLog.objects.create(
        created=timezone.now(),
        request_id="req-1",
        family="anthropic",
        endpoint="/v1/messages",
        method="POST",
        model="claude-sonnet-4-5",
        status=529,
        latency_ms=10.0,
        overhead_ms=1.0,
    )


def test_the_log_list_shows_rows_and_filters(staff: Client, row: RequestLog) -> None:
    response = staff.get(LOGS, {"family": "anthropic", "status_class": "5"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [row]


def test_a_filter_excludes_rows_that_do_not_match(staff: Client, row: RequestLog) -> None:
    response = staff.get(LOGS, {"family": "openai"})
    assert list(response.context["cl"].result_list) == []


def test_the_filtered_list_runs_no_second_full_count(staff: Client, row: RequestLog) -> None:
    with CaptureQueriesContext(connection) as queries:
        staff.get(LOGS, {"family": "anthropic"})
    counts = [
        q["sql"] for q in queries if "COUNT(" in q["sql"] and "requestlog_requestlog" in q["sql"]
    ]
    assert len(counts) == 1 and "WHERE" in counts[0]


def test_the_unfiltered_list_counts_and_lists_filter_choices_within_bounds(
    staff: Client, row: RequestLog
) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = staff.get(LOGS)
    assert list(response.context["cl"].result_list) == [row]
    log_queries = [q["sql"] for q in queries if "requestlog_requestlog" in q["sql"]]
    counts = [sql for sql in log_queries if "COUNT(" in sql]
    # The count reads at most CappedPaginator.CAP rows, and no filter lists DISTINCT values.
    assert counts and all("LIMIT" in sql for sql in counts)
    assert not any("DISTINCT" in sql for sql in log_queries)


def test_the_model_and_team_filters_offer_values_of_the_latest_rows(
    staff: Client, row: RequestLog
) -> None:
    response = staff.get(LOGS)
    choices = {
        spec.title: [choice["display"] for choice in spec.choices(response.context["cl"])]
        for spec in response.context["cl"].filter_specs
    }
    assert "claude-sonnet-4-5" in choices["model (seen lately)"]
    response = staff.get(LOGS, {"model": "claude-sonnet-4-5"})
    assert list(response.context["cl"].result_list) == [row]
    response = staff.get(LOGS, {"model": "gpt-5"})
    assert list(response.context["cl"].result_list) == []


def test_rows_cannot_be_added(staff: Client, row: RequestLog) -> None:
    assert staff.get(f"{LOGS}add/").status_code == 403


def test_rows_cannot_be_changed(staff: Client, row: RequestLog) -> None:
    response = staff.post(f"{LOGS}{row.pk}/change/", {"status": "200"})
    row.refresh_from_db()
    assert (response.status_code, row.status) == (403, 529)


def test_rows_cannot_be_deleted(staff: Client, row: RequestLog) -> None:
    response = staff.post(f"{LOGS}{row.pk}/delete/", {"post": "yes"})
    assert (response.status_code, RequestLog.objects.count()) == (403, 1)


def test_a_row_can_be_viewed(staff: Client, row: RequestLog) -> None:
    response = staff.get(f"{LOGS}{row.pk}/change/")
    assert response.status_code == 200
    assert b"claude-sonnet-4-5" in response.content


@pytest.mark.django_db
def test_a_price_edited_in_the_admin_applies_to_the_next_row(staff: Client) -> None:
    price = ModelPrice.objects.create(pattern="admin-test-", input_per_mtok=1, output_per_mtok=1)
    assert pricing.find_rate("admin-test-model").input == 1
    response = staff.post(
        f"/admin/requestlog/modelprice/{price.pk}/change/",
        {
            "pattern": "admin-test-",
            "input_per_mtok": "2.5",
            "output_per_mtok": "10",
            "cache_read_per_mtok": "",
            "cache_write_per_mtok": "",
            "notes": "",
        },
    )
    assert response.status_code == 302
    assert pricing.find_rate("admin-test-model").input == Decimal("2.5")
    pricing.invalidate()


def test_the_log_list_reads_times_to_the_second_and_money_in_dollars(staff: Client) -> None:
    created = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    RequestLog.objects.create(
        created=created,
        request_id="req-2",
        family="openai",
        endpoint="/v1/chat/completions",
        method="POST",
        status=200,
        latency_ms=12_345.0,
        overhead_ms=1.0,
        cost_usd=Decimal("0.0000012"),
        cost_source="priced",
    )
    html = staff.get(LOGS).content.decode()
    assert '<th class="field-time">' in html and "2026-03-04 05:06:07" in html
    assert '<td class="field-latency">12.3 s</td>' in html
    assert '<td class="field-cost">&lt;$0.01</td>' in html
    assert "0.0000012" not in html


def test_a_row_reads_with_plain_labels(staff: Client, row: RequestLog) -> None:
    html = staff.get(f"{LOGS}{row.pk}/change/").content.decode()
    for label in ("Time (UTC):", "Latency:", "Time to first byte:", "Gateway overhead:", "Cost:"):
        assert label in html
    for raw in ("Ttfb ms", "Latency ms", "Cost usd", "Overhead ms"):
        assert raw not in html
