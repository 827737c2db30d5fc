"""System checks for a hosted gateway: stable ids, each raised only by its own mistake, and run by
`serve` when it binds a non-loopback address."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.test import override_settings

from proxy import checks
from tests.conftest import ROOT

# A deployment with none of the mistakes.
SAFE = {
    "DEBUG": False,
    "SECRET_KEY": "a-long-random-secret-key-for-the-checks-0123456789",
    "ALLOWED_HOSTS": ["gateway.example.com"],
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "HEADROOM_REQUIRE_KEY": True,
}


@pytest.fixture(autouse=True)
def _no_bind_host() -> Iterator[None]:
    checks.bind_host = None
    yield
    checks.bind_host = None


def headroom_ids(**changes: object) -> list[str]:
    with override_settings(**(SAFE | changes)):
        messages = run_checks(tags=[checks.TAG], include_deployment_checks=True)
    return sorted(message.id for message in messages)


def test_a_safe_deployment_raises_no_headroom_check() -> None:
    assert headroom_ids() == []


def test_debug_on_is_w001() -> None:
    assert headroom_ids(DEBUG=True) == ["headroom.W001"]


def test_the_default_secret_key_is_w002() -> None:
    assert headroom_ids(SECRET_KEY=checks.DEFAULT_SECRET_KEY) == ["headroom.W002"]


def test_the_settings_default_secret_key_is_the_one_the_check_knows() -> None:
    source = (ROOT / "headroom_site" / "settings.py").read_text()
    assert f'default="{checks.DEFAULT_SECRET_KEY}"' in source


def test_empty_allowed_hosts_is_w003() -> None:
    assert headroom_ids(ALLOWED_HOSTS=[]) == ["headroom.W003"]


def test_keys_not_required_on_a_public_bind_address_is_w004() -> None:
    checks.bind_host = "0.0.0.0"
    assert headroom_ids(HEADROOM_REQUIRE_KEY=False) == ["headroom.W004"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_keys_not_required_on_a_loopback_address_is_fine(host: str) -> None:
    checks.bind_host = host
    assert headroom_ids(HEADROOM_REQUIRE_KEY=False) == []


def test_keys_not_required_is_not_judged_without_a_bind_address() -> None:
    assert headroom_ids(HEADROOM_REQUIRE_KEY=False) == []


def test_insecure_cookies_without_debug_are_w005() -> None:
    assert headroom_ids(SESSION_COOKIE_SECURE=False) == ["headroom.W005"]
    assert headroom_ids(CSRF_COOKIE_SECURE=False) == ["headroom.W005"]


def test_insecure_cookies_with_debug_on_are_only_the_debug_warning() -> None:
    assert headroom_ids(DEBUG=True, SESSION_COOKIE_SECURE=False) == ["headroom.W001"]


def test_the_checks_run_only_with_deploy() -> None:
    with override_settings(**(SAFE | {"DEBUG": True})):
        assert run_checks(tags=[checks.TAG]) == []


def test_check_deploy_reports_them_by_id() -> None:
    err = io.StringIO()
    with override_settings(**(SAFE | {"SECRET_KEY": checks.DEFAULT_SECRET_KEY})):
        call_command("check", "--deploy", "--tag", checks.TAG, stderr=err, stdout=io.StringIO())
    assert "headroom.W002" in err.getvalue()


@pytest.mark.parametrize("mode", ["off", "lossless", "Aggressive", ""])
def test_a_known_compression_default_raises_nothing(mode: str) -> None:
    with override_settings(HEADROOM_COMPRESSION_DEFAULT=mode):
        assert run_checks(tags=[checks.TAG]) == []


def test_an_unknown_compression_default_is_w006_without_deploy() -> None:
    with override_settings(HEADROOM_COMPRESSION_DEFAULT="agressive"):
        messages = run_checks(tags=[checks.TAG])
    assert [message.id for message in messages] == ["headroom.W006"]
    assert "'agressive'" in messages[0].msg


def serve_warnings(host: str, **changes: object) -> str:
    # Any command does: `serve` itself would install Twisted's reactor in the test process.
    command = BaseCommand(stdout=io.StringIO(), stderr=io.StringIO())
    with override_settings(**(SAFE | changes)):
        checks.check_serving(command, host)
    return command.stderr.getvalue()


def test_serve_on_a_public_address_prints_the_hosted_warnings() -> None:
    output = serve_warnings("0.0.0.0", HEADROOM_REQUIRE_KEY=False, DEBUG=True)
    assert "headroom.W004" in output
    assert "headroom.W001" in output


def test_serve_on_a_public_address_with_a_safe_deployment_prints_nothing() -> None:
    assert serve_warnings("0.0.0.0") == ""


def test_serve_on_loopback_prints_nothing() -> None:
    assert serve_warnings("127.0.0.1", HEADROOM_REQUIRE_KEY=False, DEBUG=True) == ""


def test_the_serve_command_runs_the_hosted_checks_for_its_bind_address() -> None:
    # 192.0.2.1 is a documentation address no machine has: the checks run, then binding fails
    # and the command ends, so nothing ever listens beyond loopback.
    env = {key: value for key, value in os.environ.items() if not key.endswith("_KEY")}
    env.update(DJANGO_SETTINGS_MODULE="headroom_site.settings", HEADROOM_REQUIRE_KEY="false")
    done = subprocess.run(
        [sys.executable, "manage.py", "serve", "--host", "192.0.2.1", "--port", "9"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "headroom.W004" in done.stderr
    assert "The gateway listens on 192.0.2.1" in done.stderr
