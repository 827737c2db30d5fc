"""The documented production environment (deploy/headroom.env, secrets filled in) passes
`manage.py check --deploy` with nothing to report, and sets what a TLS-terminating proxy needs.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests import deploy
from tests.conftest import ROOT

ENV_FILE = ROOT / "deploy" / "headroom.env"
SECRETS = ("DJANGO_SECRET_KEY", "HEADROOM_KEY_SECRET")


def production_env(tmp_path: Path) -> dict[str, str]:
    """deploy/headroom.env as systemd reads it, the blank secrets filled in and the database
    moved into the test's own directory."""
    values = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    values.update({name: secrets.token_urlsafe(50) for name in SECRETS if not values[name]})
    values["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return values


def test_the_example_env_leaves_only_the_secrets_blank() -> None:
    text = ENV_FILE.read_text()
    for name in SECRETS:
        assert f"\n{name}=\n" in text


def test_check_deploy_reports_nothing_under_the_production_env(tmp_path: Path) -> None:
    done = deploy.manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "DEBUG")
    assert done.stdout.strip() == "System check identified no issues (1 silenced)."
    assert done.stderr == ""


def test_check_deploy_warns_without_the_production_env(tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as failure:
        deploy.manage(
            {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
        )
    report = str(failure.value)
    for check in ("security.W004", "security.W008", "headroom.W002", "headroom.W005"):
        assert check in report


def test_the_production_env_trusts_the_local_proxy_for_https(tmp_path: Path) -> None:
    script = (
        "from django.conf import settings as s; "
        "print(s.SECURE_PROXY_SSL_HEADER, s.USE_X_FORWARDED_HOST, s.SECURE_SSL_REDIRECT, "
        "s.HEADROOM_TRUSTED_PROXIES, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    done = deploy.manage(production_env(tmp_path), "shell", "-v", "0", "-c", script)
    assert done.stdout.strip() == (
        "('HTTP_X_FORWARDED_PROTO', 'https') True False ['127.0.0.1', '::1'] True True"
    )
