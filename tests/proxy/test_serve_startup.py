"""`manage.py serve` refuses to start, in one clear line and with a failing status, when it could
only answer 500s (migrations not applied, database unreachable) or cannot listen; /readyz says
not ready for the same database states.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from tests import deploy
from tests.conftest import ROOT, database_url, free_port

# Longest a refusing `serve` may take: Django's start-up and one look at the database.
REFUSAL_SECONDS = 60


def serve(settings: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "serve", *args],
        cwd=ROOT,
        env=deploy.command_env(settings),
        capture_output=True,
        text=True,
        timeout=REFUSAL_SECONDS,
    )


def test_serve_refuses_a_database_without_its_migrations(tmp_path: Path) -> None:
    done = serve({"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}, "--port", "1")
    assert done.returncode != 0
    assert "listening" not in done.stdout
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("CommandError: ")
    assert last_line.endswith("database migration(s) not applied: run `manage.py migrate` first")


def test_serve_refuses_a_database_it_cannot_open(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "db.sqlite3"
    done = serve({"DATABASE_URL": f"sqlite:///{missing}"}, "--port", "1")
    assert done.returncode != 0
    assert "listening" not in done.stdout
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line == (
        "CommandError: cannot read the database (unable to open database file); check DATABASE_URL"
    )


def test_serve_refuses_a_port_already_in_use(django_db_setup: None) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = serve({"DATABASE_URL": database_url()}, "--port", str(port))
    assert done.returncode != 0
    assert "listening" not in done.stdout
    last_line = done.stderr.strip().splitlines()[-1]
    assert (
        last_line == f"CommandError: cannot listen on 127.0.0.1:{port}: the port is already in use"
    )


def test_serve_refuses_fewer_than_one_worker(django_db_setup: None) -> None:
    done = serve({"DATABASE_URL": database_url()}, "--port", "1", "--workers", "0")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == "CommandError: --workers must be at least 1"


@pytest.mark.django_db
def test_readyz_is_503_while_a_migration_is_pending(client: object) -> None:
    recorder = MigrationRecorder(connection)
    latest = recorder.migration_qs.filter(app="proxy").order_by("-id").first()
    recorder.record_unapplied("proxy", latest.name)
    response = client.get("/readyz")  # type: ignore[attr-defined]
    assert response.status_code == 503
    assert (response.json()["database"], response.json()["migrations"]) == (True, False)


@pytest.mark.django_db
def test_readyz_reports_the_migrations_applied(client: object) -> None:
    response = client.get("/readyz")  # type: ignore[attr-defined]
    assert response.json()["migrations"] is True
