"""The request-log writer: batches, a bounded queue, database errors survived, rows priced."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db import IntegrityError, OperationalError, connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from proxy import record
from proxy.exchange import Exchange
from requestlog import pricing, storable
from requestlog import writer as log_writer
from requestlog.models import ModelPrice, RequestLog
from requestlog.usage import Usage
from requestlog.writer import LogWriter


def exchange(**fields: object) -> Exchange:
    values = {"family": "openai", "endpoint": "/v1/chat/completions", "method": "POST"}
    done = Exchange(**{**values, "status": 200, **fields})  # type: ignore[arg-type]
    done.ended = done.started + 0.05
    return done


def dropped(reason: str) -> float:
    value = REGISTRY.get_sample_value("headroom_request_log_rows_dropped_total", {"reason": reason})
    return value or 0.0


@pytest.fixture(autouse=True)
def _fresh_prices() -> Iterator[None]:
    pricing.invalidate()
    yield
    pricing.invalidate()


@pytest.fixture
def writer(settings: object) -> Iterator[LogWriter]:
    """A writer of its own, so queue-size settings apply and the shared one stays untouched."""
    settings.HEADROOM_LOG_BATCH_SIZE = 2  # type: ignore[attr-defined]
    settings.HEADROOM_LOG_QUEUE_SIZE = 3  # type: ignore[attr-defined]
    own = LogWriter()
    yield own
    own.stopping.set()
    own.wake.set()
    if own.thread is not None:
        own.thread.join(5)


def submit(writer: LogWriter, done: Exchange) -> None:
    writer.submit(record.row_values(done), done.usage)


@pytest.mark.django_db
def test_queued_rows_are_written_in_batches(writer: LogWriter) -> None:
    for index in range(3):
        submit(writer, exchange(model=f"m{index}"))
    with CaptureQueriesContext(connection) as queries:
        saved = writer.flush()
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "requestlog_requestlog"')]
    assert (saved, len(inserts), RequestLog.objects.count()) == (3, 2, 3)


@pytest.mark.django_db
def test_a_full_queue_drops_rows_and_counts_them(writer: LogWriter) -> None:
    before = dropped("queue_full")
    for _ in range(5):
        submit(writer, exchange())
    assert (writer.pending(), dropped("queue_full") - before) == (3, 2)
    assert writer.flush() == 3


@pytest.mark.django_db
def test_an_unreachable_database_keeps_the_batch_until_it_answers(
    writer: LogWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dropped("db_error")

    def fail(*args: object, **kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    submit(writer, exchange(model="first"))
    with monkeypatch.context() as patch:
        patch.setattr(RequestLog.objects, "insert", fail)
        assert writer.flush() == 0
        submit(writer, exchange(model="second"))
        assert (writer.flush(), writer.pending()) == (0, 2)
    assert writer.flush() == 2
    assert dropped("db_error") - before == 0
    assert list(RequestLog.objects.order_by("id").values_list("model", flat=True)) == [
        "first",
        "second",
    ]


@pytest.mark.django_db
def test_a_batch_the_database_refuses_is_dropped_and_the_writer_carries_on(
    writer: LogWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dropped("db_error")

    def fail(*args: object, **kwargs: object) -> None:
        raise IntegrityError("a row the database refuses")

    submit(writer, exchange(model="lost"))
    with monkeypatch.context() as patch:
        patch.setattr(RequestLog.objects, "insert", fail)
        assert writer.flush() == 0
    submit(writer, exchange(model="kept"))
    assert writer.flush() == 1
    assert dropped("db_error") - before == 1
    assert list(RequestLog.objects.values_list("model", flat=True)) == ["kept"]


def test_recording_never_raises_even_when_a_row_cannot_be_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = dropped("error")

    def broken(done: Exchange) -> dict:
        raise ValueError("bad exchange")

    monkeypatch.setattr(record, "row_values", broken)
    record.record(exchange())
    assert dropped("error") - before == 1


@pytest.mark.django_db
def test_recording_an_exchange_queues_exactly_one_row() -> None:
    done = exchange()
    record.record(done)
    record.record(done)
    assert (log_writer.writer.pending(), log_writer.flush()) == (1, 1)


@pytest.mark.django_db
def test_rows_are_priced_when_written(writer: LogWriter) -> None:
    ModelPrice.objects.create(pattern="priced-", input_per_mtok=1, output_per_mtok=2)
    usage = Usage(input_tokens=1000, output_tokens=500)
    submit(
        writer, exchange(model="priced-model", usage=usage, tokens_before=1500, tokens_after=1000)
    )
    submit(writer, exchange(model="nobody-prices-this", usage=usage))
    writer.flush()
    rows = RequestLog.objects.order_by("id")
    assert [(r.cost_usd, r.saved_usd, r.cost_source) for r in rows] == [
        (Decimal("0.002"), Decimal("0.0005"), "priced"),
        (None, None, "unpriced"),
    ]
    assert (rows[0].input_tokens, rows[0].output_tokens, rows[0].usage_reported) == (
        1000,
        500,
        True,
    )


@pytest.mark.django_db
def test_a_cache_hit_records_no_billed_tokens(writer: LogWriter) -> None:
    ModelPrice.objects.create(pattern="cached-", input_per_mtok=1, output_per_mtok=1)
    usage = Usage(input_tokens=1_000_000)
    submit(writer, exchange(model="cached-model", usage=usage, cache_hit=True))
    writer.flush()
    row = RequestLog.objects.get()
    assert (row.input_tokens, row.cost_usd, row.saved_usd) == (0, Decimal(0), Decimal(1))


def test_a_client_that_left_before_any_status_is_logged_as_499() -> None:
    values = record.row_values(exchange(status=0, disconnected=True))
    assert (values["status"], values["disconnected"]) == (499, True)


def test_a_client_that_left_before_the_upstreams_answer_reached_it_is_logged_as_499() -> None:
    values = record.row_values(exchange(status=200, disconnected=True))
    assert (values["status"], values["disconnected"]) == (499, True)


def test_a_client_that_left_after_its_first_byte_keeps_the_status_it_got() -> None:
    left = exchange(status=200, disconnected=True)
    left.mark_first_byte()
    assert (record.row_values(left)["status"], record.row_values(left)["disconnected"]) == (
        200,
        True,
    )


def test_an_exchange_that_crashed_before_any_status_is_logged_as_500() -> None:
    assert record.row_values(exchange(status=0))["status"] == 500


def test_long_values_are_cut_to_their_column_size() -> None:
    values = record.row_values(exchange(model="m" * 1000, endpoint="/v1/" + "x" * 1000))
    assert (len(values["model"]), len(values["endpoint"])) == (200, 500)


@pytest.mark.django_db(transaction=True)
def test_the_background_thread_writes_without_an_explicit_flush(
    writer: LogWriter, settings: object
) -> None:
    settings.HEADROOM_LOG_FLUSH_SECONDS = 0.05  # type: ignore[attr-defined]
    submit(writer, exchange(model="by-thread"))
    deadline = time.monotonic() + 5
    while not RequestLog.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert writer.running
    assert list(RequestLog.objects.values_list("model", flat=True)) == ["by-thread"]


@pytest.mark.django_db(transaction=True)
def test_stopping_writes_what_is_queued_and_ends_the_thread(
    writer: LogWriter, settings: object
) -> None:
    settings.HEADROOM_LOG_FLUSH_SECONDS = 600  # type: ignore[attr-defined]
    submit(writer, exchange(model="at-shutdown"))
    assert writer.running
    writer.stop(timeout=5)
    assert not writer.running
    assert list(RequestLog.objects.values_list("model", flat=True)) == ["at-shutdown"]


@pytest.mark.django_db(transaction=True)
def test_the_background_thread_survives_a_failed_write(
    writer: LogWriter, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HEADROOM_LOG_FLUSH_SECONDS = 0.05  # type: ignore[attr-defined]
    real = RequestLog.objects.insert
    calls: list[int] = []

    # The batch, its row written alone and the row's placeholder: one failed write, all refused.
    def fail_once(rows: list[RequestLog]) -> None:
        calls.append(len(rows))
        if len(calls) <= 3:
            raise OperationalError("disk I/O error")
        real(rows)

    monkeypatch.setattr(RequestLog.objects, "insert", fail_once)
    submit(writer, exchange(model="retried"))
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.02)
    submit(writer, exchange(model="later"))
    while RequestLog.objects.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert writer.running
    # The failed batch was kept and written again before the rows queued after it.
    assert list(RequestLog.objects.order_by("id").values_list("model", flat=True)) == [
        "retried",
        "later",
    ]


@pytest.mark.django_db
def test_a_route_deleted_while_its_rows_wait_does_not_sink_the_batch(writer: LogWriter) -> None:
    from routing.models import UpstreamRoute

    route = UpstreamRoute.objects.create(model_prefix="glm-", upstream="https://ollama.com")
    submit(writer, exchange(model="glm-4.6", route_id=route.pk, route_label="glm-"))
    submit(writer, exchange(model="gpt-5"))
    route.delete()
    writer.flush()
    rows = list(
        RequestLog.objects.order_by("model").values_list("model", "route_id", "route_label")
    )
    assert rows == [("glm-4.6", None, "glm-"), ("gpt-5", None, "")]


def test_every_text_of_a_row_is_made_storable_when_the_row_is_built() -> None:
    done = exchange(model="gpt-\ud800\x00x" + "y" * 500, endpoint="/v1/a\x00b\udfff")
    values = record.row_values(done)
    assert values["model"] == "gpt-\ufffdx" + "y" * 194
    assert values["endpoint"] == "/v1/ab\ufffd"


@pytest.mark.django_db
def test_a_refused_row_becomes_a_placeholder_and_its_batch_survives(
    writer: LogWriter, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HEADROOM_LOG_BATCH_SIZE = 10  # type: ignore[attr-defined]
    settings.HEADROOM_LOG_QUEUE_SIZE = 10  # type: ignore[attr-defined]
    ModelPrice.objects.create(pattern="bad", input_per_mtok=Decimal(1), output_per_mtok=Decimal(2))
    usage = Usage(input_tokens=100, output_tokens=7)
    for index in range(4):
        submit(writer, exchange(model=f"ok-{index}", usage=usage))
    # A row built without `storable.text` (as an older row builder did) still reaches the
    # database as a lone surrogate, which SQLite and PostgreSQL both refuse.
    poisoned = record.row_values(exchange(model="bad", usage=usage))
    poisoned["model"] = "bad-\ud800"
    writer.submit(poisoned, usage)
    assert writer.flush() == 5
    rows = {row.model: row for row in RequestLog.objects.all()}
    assert set(rows) == {"ok-0", "ok-1", "ok-2", "ok-3", "bad-\\ud800"}
    placeholder = rows["bad-\\ud800"]
    assert (placeholder.status, placeholder.input_tokens, placeholder.output_tokens) == (
        200,
        100,
        7,
    )
    assert placeholder.error_type == "unstorable_row"
    assert placeholder.cost_usd == Decimal("0.000114")


def test_the_storable_text_limits_are_the_columns_lengths() -> None:
    columns = {
        field.name: field.max_length
        for field in RequestLog._meta.fields
        if field.get_internal_type() == "CharField" and field.name != "cost_source"
    }
    assert columns == storable.TEXT_LIMITS
