"""Rows a stop cannot write while the database is unreachable: spilled to a file, written by the
next start exactly once, and the file deleted once they are in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.db import OperationalError

from proxy import record
from requestlog import spill
from requestlog import writer as log_writer
from requestlog.models import RequestLog
from requestlog.usage import Usage
from requestlog.writer import LogWriter
from tests.requestlog.test_logwriter import dropped, exchange


@pytest.fixture
def spill_dir(settings: object, tmp_path: Path) -> Path:
    settings.HEADROOM_LOG_SPILL_DIR = str(tmp_path / "spill")  # type: ignore[attr-defined]
    return tmp_path / "spill"


def unreachable(*args: object, **kwargs: object) -> None:
    raise OperationalError("could not connect to server")


def spilled_rows(writer: LogWriter, monkeypatch: pytest.MonkeyPatch, *models: str) -> Path:
    """Queue rows for these models and stop the writer while the database refuses them."""
    for model in models:
        done = exchange(model=model, usage=Usage(input_tokens=7, output_tokens=3))
        writer.submit(record.row_values(done), done.usage)
    with monkeypatch.context() as patch:
        patch.setattr(RequestLog.objects, "insert", unreachable)
        writer.stop(timeout=1)
    [path] = spill.files()
    return path


@pytest.mark.django_db(transaction=True)
def test_a_stop_while_the_database_is_unreachable_spills_the_queued_rows(
    spill_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dropped("db_error")

    path = spilled_rows(LogWriter(), monkeypatch, "first", "second")

    assert path.parent == spill_dir
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["values"]["model"] for line in lines] == ["first", "second"]
    assert lines[0]["usage"]["input_tokens"] == 7
    assert dropped("db_error") == before
    assert RequestLog.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_next_start_writes_the_spilled_rows_and_deletes_the_file(
    spill_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = spilled_rows(LogWriter(), monkeypatch, "first", "second")

    assert log_writer.replay_spilled() == 2

    rows = list(RequestLog.objects.order_by("model"))
    assert [(row.model, row.input_tokens, row.output_tokens) for row in rows] == [
        ("first", 7, 3),
        ("second", 7, 3),
    ]
    assert not path.exists()


@pytest.mark.django_db(transaction=True)
def test_a_replay_cut_short_and_run_again_writes_no_row_twice(
    spill_dir: Path, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    settings.HEADROOM_LOG_BATCH_SIZE = 1  # type: ignore[attr-defined]
    path = spilled_rows(LogWriter(), monkeypatch, "first", "second", "third")
    writes = 0
    real_insert = RequestLog.objects.insert

    def gone_after_one(rows: list[RequestLog]) -> None:
        # The database goes away again once the first row is in.
        nonlocal writes
        writes += 1
        if writes > 1:
            unreachable()
        real_insert(rows)

    with monkeypatch.context() as patch:
        patch.setattr(RequestLog.objects, "insert", gone_after_one)
        assert log_writer.replay_spilled() == 1
    assert path.exists()

    assert log_writer.replay_spilled() == 2

    models = sorted(RequestLog.objects.values_list("model", flat=True))
    assert models == ["first", "second", "third"]
    assert not path.exists()


@pytest.mark.django_db(transaction=True)
def test_without_a_spill_directory_the_rows_are_dropped_and_counted(
    settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HEADROOM_LOG_SPILL_DIR = ""  # type: ignore[attr-defined]
    before = dropped("db_error")
    writer = LogWriter()
    done = exchange(model="lost")
    writer.submit(record.row_values(done), done.usage)

    with monkeypatch.context() as patch:
        patch.setattr(RequestLog.objects, "insert", unreachable)
        writer.stop(timeout=1)

    assert dropped("db_error") - before == 1
    assert writer.pending() == 0
