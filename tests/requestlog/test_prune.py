"""`manage.py prune_request_logs --older-than …`: old rows go in batches, recent rows stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from requestlog.management.commands.prune_request_logs import parse_age
from requestlog.management.commands.prune_request_logs import prune as prune_rows
from requestlog.models import RequestLog, Rollup


def log_row(age: timedelta, model: str) -> RequestLog:
    return RequestLog(
        created=timezone.now() - age,
        request_id=model,
        family="openai",
        endpoint="/v1/chat/completions",
        method="POST",
        model=model,
        status=200,
        latency_ms=1.0,
        overhead_ms=0.5,
    )


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_request_logs", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_rows_older_than_the_age_are_deleted_and_counted() -> None:
    RequestLog.objects.add_rows(
        [log_row(timedelta(days=91 + n), f"old-{n}") for n in range(5)]
        + [log_row(timedelta(days=89), "recent")]
    )
    output = prune("--older-than", "90d", "--batch-size", "2")
    assert output.strip() == "Deleted 5 request log rows older than 90d."
    assert list(RequestLog.objects.values_list("model", flat=True)) == ["recent"]


@pytest.mark.django_db
def test_hours_are_accepted_as_an_age() -> None:
    RequestLog.objects.add_rows(
        [log_row(timedelta(hours=13), "old"), log_row(timedelta(hours=11), "new")]
    )
    prune("--older-than", "12h")
    assert list(RequestLog.objects.values_list("model", flat=True)) == ["new"]


@pytest.mark.django_db
def test_nothing_to_prune_reports_zero() -> None:
    assert prune("--older-than", "1d").strip() == "Deleted 0 request log rows older than 1d."


@pytest.mark.parametrize("value", ["90", "1w", "d", "-3d", "90 days"])
def test_an_age_without_a_d_or_h_unit_is_refused(value: str) -> None:
    with pytest.raises(CommandError, match="90d or 12h"):
        parse_age(value)


def test_ages_parse_to_days_and_hours() -> None:
    assert (parse_age("90d"), parse_age("12H")) == (timedelta(days=90), timedelta(hours=12))


@pytest.mark.django_db
def test_each_batch_reads_the_oldest_rows_in_created_order() -> None:
    RequestLog.objects.add_rows([log_row(timedelta(days=100 - n), f"old-{n}") for n in range(6)])
    with CaptureQueriesContext(connection) as queries:
        assert prune_rows(timezone.now() - timedelta(days=90), batch_size=4) == 6
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and "LIMIT 4" in q["sql"]]
    assert len(reads) == 3  # two batches, then an empty read
    assert all('ORDER BY "requestlog_requestlog"."created" ASC' in sql for sql in reads)
    assert not Rollup.objects.exists()


@pytest.mark.django_db
def test_pruning_looks_only_at_the_rollup_buckets_of_the_rows_it_deletes() -> None:
    RequestLog.objects.add_rows([log_row(timedelta(days=91), "old")])
    # A group emptied by hand in a bucket the pruned row was not in stays where it is.
    Rollup.objects.create(
        grain="hour",
        bucket=timezone.now().replace(minute=0, second=0, microsecond=0),
        family="openai",
        route_label="",
        model="kept",
        upstream_host="",
        team="",
        status=200,
        requests=0,
    )
    prune_rows(timezone.now() - timedelta(days=90))
    assert list(Rollup.objects.values_list("model", flat=True)) == ["kept"]
