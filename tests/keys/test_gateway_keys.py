"""Gateway keys: issuing and hashing, where a key is read, 401s, the per-worker key table,
last_used, the admin's one-time page and `create_gateway_key`."""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.http import HttpResponse
from django.test import TestCase, override_settings
from django.utils import timezone

from keys import admission, issuing
from keys import table as key_table
from keys.models import GatewayKey
from requestlog import writer
from requestlog.models import RequestLog
from routing.models import UpstreamRoute
from tests.conftest import UpstreamSeam

CHAT = b'{"model": "gpt-5", "messages": []}'
MESSAGE = b'{"model": "claude-sonnet-4", "max_tokens": 5, "messages": []}'
ENV_KEYS = {"HR_KEYS_OPENAI": "sk-env-openai", "HR_KEYS_ANTHROPIC": "sk-env-ant"}


@pytest.fixture(autouse=True)
def _fresh_keys() -> Iterator[None]:
    # Cached keys and touches outlive a test's rolled-back rows; every test starts clean.
    admission.reset()
    yield
    admission.reset()


class KeyIssuingTests(TestCase):
    def test_a_new_secret_is_hr_followed_by_at_least_32_url_safe_characters(self) -> None:
        secret = issuing.new_secret()
        assert re.fullmatch(r"hr-[A-Za-z0-9_-]{32,}", secret)
        assert issuing.new_secret() != secret

    def test_only_a_keyed_hash_and_a_short_prefix_of_the_secret_are_stored(self) -> None:
        key, secret = issuing.issue(team="data")
        row = GatewayKey.objects.values().get(pk=key.pk)
        assert not any(secret in str(value) for value in row.values())
        assert row["prefix"] == secret[:8]
        assert row["secret_hash"] == issuing.hash_secret(secret)
        assert row["secret_hash"] != hashlib.sha256(secret.encode()).hexdigest()

    def test_the_hash_depends_on_the_server_secret(self) -> None:
        with override_settings(SECRET_KEY="one-secret-key-for-this-test"):
            first = issuing.hash_secret("hr-same")
        with override_settings(SECRET_KEY="another-secret-key-for-this-test"):
            second = issuing.hash_secret("hr-same")
        assert first != second

    def test_headroom_key_secret_replaces_the_secret_key_when_set(self) -> None:
        with override_settings(HEADROOM_KEY_SECRET="dedicated", SECRET_KEY="one-secret-key-x"):
            first = issuing.hash_secret("hr-same")
        with override_settings(HEADROOM_KEY_SECRET="dedicated", SECRET_KEY="other-secret-key-y"):
            second = issuing.hash_secret("hr-same")
        assert first == second
        assert len(first) == 64

    def test_the_display_prefix_ends_with_an_ellipsis(self) -> None:
        key, secret = issuing.issue(team="data", name="ci")
        assert key.display_prefix == f"{secret[:8]}…"
        assert str(key) == f"data / ci ({secret[:8]}…)"


class GatewayKeyRequestTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> Iterator[None]:
        self.seam = upstream_seam
        with mock.patch.dict(os.environ, ENV_KEYS):
            yield

    @classmethod
    def setUpTestData(cls) -> None:
        UpstreamRoute.objects.create(
            position=0,
            model_prefix="claude-",
            upstream="http://127.0.0.1:9/ant",
            protocol="anthropic",
            auth="env:HR_KEYS_ANTHROPIC",
        )
        UpstreamRoute.objects.create(
            position=1,
            model_prefix="gpt-",
            upstream="http://127.0.0.1:9/oai",
            auth="env:HR_KEYS_OPENAI",
        )
        UpstreamRoute.objects.create(
            position=2, model_prefix="gemini-", upstream="http://127.0.0.1:9/gem", protocol="gemini"
        )
        UpstreamRoute.objects.create(position=3, model_prefix="*", upstream="http://127.0.0.1:9")
        cls.key, cls.secret = issuing.issue(team="research", name="laptop")

    async def post(self, path: str, body: bytes, **headers: str) -> HttpResponse:
        return await self.async_client.post(
            path, body, content_type="application/json", headers=headers
        )

    async def logged_row(self) -> RequestLog:
        await sync_to_async(writer.flush)()
        return await RequestLog.objects.alatest("id")

    def sent_text(self) -> str:
        request = self.seam.requests[-1]
        return str(request.url) + repr(request.headers.raw) + request.content.decode()

    async def test_x_headroom_key_names_the_team_in_the_request_log(self) -> None:
        response = await self.post(
            "/v1/messages", MESSAGE, **{"x-headroom-key": self.secret, "x-api-key": "sk-ant-c"}
        )
        assert response.status_code == 200
        row = await self.logged_row()
        assert (row.team, row.gateway_key_id) == ("research", self.key.pk)

    async def test_the_gateway_key_is_never_forwarded_upstream(self) -> None:
        await self.post("/v1/messages", MESSAGE, **{"x-headroom-key": self.secret})
        assert self.secret not in self.sent_text()

    async def test_an_hr_bearer_token_on_an_env_route_is_the_gateway_key(self) -> None:
        response = await self.post(
            "/v1/chat/completions", CHAT, authorization=f"Bearer {self.secret}"
        )
        assert response.status_code == 200
        assert self.seam.requests[0].headers["authorization"] == "Bearer sk-env-openai"
        assert self.secret not in self.sent_text()
        assert (await self.logged_row()).team == "research"

    async def test_an_hr_x_api_key_on_an_env_route_is_the_gateway_key(self) -> None:
        # What Claude Code sends when ANTHROPIC_API_KEY holds a gateway key.
        response = await self.post("/v1/messages", MESSAGE, **{"x-api-key": self.secret})
        assert response.status_code == 200
        assert self.seam.requests[0].headers["x-api-key"] == "sk-env-ant"
        assert (await self.logged_row()).gateway_key_id == self.key.pk

    async def test_an_hr_key_alone_on_a_passthrough_route_is_no_provider_credential(
        self,
    ) -> None:
        response = await self.post(
            "/v1/chat/completions",
            b'{"model": "other", "messages": []}',
            authorization=f"Bearer {self.secret}",
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "missing_api_key"
        assert self.seam.requests == []

    async def test_on_a_passthrough_route_an_hr_key_beside_a_provider_key_is_removed(
        self,
    ) -> None:
        response = await self.post(
            "/v1/chat/completions",
            b'{"model": "other", "messages": []}',
            authorization=f"Bearer {self.secret}",
            **{"api-key": "azure-client-key"},
        )
        assert response.status_code == 200
        sent = self.seam.requests[0].headers
        assert sent["api-key"] == "azure-client-key"
        assert "authorization" not in sent

    async def test_a_gemini_query_key_holding_a_gateway_key_is_removed(self) -> None:
        response = await self.async_client.post(
            f"/v1beta/models/gemini-2.5-pro:generateContent?alt=json&key={self.secret}",
            b"{}",
            content_type="application/json",
            headers={"x-goog-api-key": "AIza-client"},
        )
        assert response.status_code == 200
        assert self.seam.requests[0].url.query == b"alt=json"
        assert self.seam.requests[0].headers["x-goog-api-key"] == "AIza-client"
        assert (await self.logged_row()).team == "research"

    async def test_an_unknown_key_is_refused_even_when_keys_are_not_required(self) -> None:
        response = await self.post(
            "/v1/messages", MESSAGE, **{"x-headroom-key": "hr-not-a-key-of-this-gateway"}
        )
        assert response.status_code == 401
        assert response.json() == {
            "type": "error",
            "error": {"type": "authentication_error", "message": "the gateway key is not valid"},
        }
        assert self.seam.requests == []
        assert "hr-not-a-key" not in response.content.decode()

    async def test_a_disabled_key_is_refused_and_the_row_names_its_team(self) -> None:
        await GatewayKey.objects.filter(pk=self.key.pk).aupdate(active=False)
        key_table.invalidate()
        response = await self.post("/v1/messages", MESSAGE, **{"x-headroom-key": self.secret})
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "the gateway key has been disabled"
        row = await self.logged_row()
        assert (row.team, row.status, row.error_type) == ("research", 401, "gateway_key_disabled")
        assert self.seam.requests == []

    async def test_an_expired_key_is_refused(self) -> None:
        past = timezone.now() - timedelta(seconds=1)
        await GatewayKey.objects.filter(pk=self.key.pk).aupdate(expires=past)
        key_table.invalidate()
        response = await self.post(
            "/v1/chat/completions", CHAT, authorization=f"Bearer {self.secret}"
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "gateway_key_expired"
        assert self.seam.requests == []

    async def test_a_key_that_expires_later_is_accepted(self) -> None:
        future = timezone.now() + timedelta(days=1)
        await GatewayKey.objects.filter(pk=self.key.pk).aupdate(expires=future)
        key_table.invalidate()
        response = await self.post("/v1/messages", MESSAGE, **{"x-headroom-key": self.secret})
        assert response.status_code == 200

    @override_settings(HEADROOM_REQUIRE_KEY=True)
    async def test_when_required_a_request_without_a_key_gets_401_in_each_family_shape(
        self,
    ) -> None:
        openai = await self.post("/v1/chat/completions", CHAT, authorization="Bearer sk-x")
        anthropic = await self.post("/v1/messages", MESSAGE, **{"x-api-key": "sk-ant-x"})
        gemini = await self.async_client.post(
            "/v1beta/models/gemini-2.5-pro:generateContent", b"{}", content_type="application/json"
        )
        assert [r.status_code for r in (openai, anthropic, gemini)] == [401, 401, 401]
        assert openai.json()["error"]["type"] == "authentication_error"
        assert openai.json()["error"]["code"] == "gateway_key_required"
        assert anthropic.json()["error"]["type"] == "authentication_error"
        assert gemini.json()["error"]["status"] == "UNAUTHENTICATED"
        assert self.seam.requests == []

    @override_settings(HEADROOM_REQUIRE_KEY=True)
    async def test_when_required_a_valid_key_is_let_through(self) -> None:
        response = await self.post("/v1/messages", MESSAGE, **{"x-api-key": self.secret})
        assert response.status_code == 200
        assert len(self.seam.requests) == 1

    async def test_without_a_key_and_not_required_the_row_has_no_team(self) -> None:
        response = await self.post("/v1/messages", MESSAGE)
        assert response.status_code == 200
        row = await self.logged_row()
        assert (row.team, row.gateway_key_id) == ("", None)

    async def test_a_known_key_is_checked_without_reading_the_database_again(self) -> None:
        await self.post("/v1/messages", MESSAGE, **{"x-headroom-key": self.secret})
        with mock.patch.object(key_table, "load", side_effect=AssertionError("reloaded")):
            response = await self.post("/v1/messages", MESSAGE, **{"x-headroom-key": self.secret})
        assert response.status_code == 200

    async def test_a_key_saved_in_this_worker_is_accepted_at_once(self) -> None:
        await self.post("/v1/messages", MESSAGE, **{"x-headroom-key": self.secret})
        key, secret = await keys_issue(team="ops")
        response = await self.post("/v1/messages", MESSAGE, **{"x-headroom-key": secret})
        assert response.status_code == 200
        assert (await self.logged_row()).team == "ops"

    async def test_a_key_disabled_by_a_save_in_this_worker_is_refused_at_once(self) -> None:
        await self.post("/v1/messages", MESSAGE, **{"x-headroom-key": self.secret})
        key = await GatewayKey.objects.aget(pk=self.key.pk)
        key.active = False
        await key.asave()
        response = await self.post("/v1/messages", MESSAGE, **{"x-headroom-key": self.secret})
        assert response.status_code == 401


async def keys_issue(**fields: object) -> tuple[GatewayKey, str]:
    return await sync_to_async(issuing.issue)(**fields)


class LastUsedTests(TestCase):
    def test_a_touch_is_written_by_the_next_flush(self) -> None:
        key, _ = issuing.issue(team="data")
        key_table.touch(key.pk)
        assert key_table.flush_touches() == 1
        key.refresh_from_db()
        assert key.last_used is not None
        assert timezone.now() - key.last_used < timedelta(seconds=5)

    def test_a_key_is_written_at_most_once_a_minute(self) -> None:
        key, _ = issuing.issue(team="data")
        key_table.touch(key.pk)
        key_table.flush_touches()
        key_table.touch(key.pk)
        assert key_table.flush_touches() == 0
        with mock.patch.object(key_table.time, "monotonic", return_value=time.monotonic() + 61):
            key_table.touch(key.pk)
        assert key_table.flush_touches() == 1

    def test_writing_last_used_does_not_invalidate_the_key_table(self) -> None:
        key, _ = issuing.issue(team="data")
        table = key_table.current_sync()
        key_table.touch(key.pk)
        key_table.flush_touches()
        assert key_table.current_sync() is table


@pytest.mark.django_db(transaction=True)
def test_the_refresh_thread_picks_up_a_key_disabled_by_another_worker(settings: object) -> None:
    key, secret = issuing.issue(team="data")
    assert key_table.current_sync().find(secret) is not None
    # update() sends no signal: only the refresh thread can notice, as for another worker's edit.
    GatewayKey.objects.filter(pk=key.pk).update(active=False)
    settings.HEADROOM_ROUTES_POLL_SECONDS = 0.05  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and key_table.current_sync().find(secret).active:
        time.sleep(0.02)
    settings.HEADROOM_ROUTES_POLL_SECONDS = 0  # type: ignore[attr-defined]
    assert key_table.current_sync().find(secret).active is False
    # Let the thread see the switch-off before the test database goes away.
    time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_the_refresh_thread_writes_last_used(settings: object) -> None:
    key, _ = issuing.issue(team="data")
    key_table.touch(key.pk)
    settings.HEADROOM_ROUTES_POLL_SECONDS = 0.05  # type: ignore[attr-defined]
    key_table.current_sync()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and GatewayKey.objects.get(pk=key.pk).last_used is None:
        time.sleep(0.02)
    settings.HEADROOM_ROUTES_POLL_SECONDS = 0  # type: ignore[attr-defined]
    assert GatewayKey.objects.get(pk=key.pk).last_used is not None
    time.sleep(0.1)


class GatewayKeyAdminTests(TestCase):
    ADD = "/admin/keys/gatewaykey/add/"

    def setUp(self) -> None:
        self.client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))

    def add_key(self) -> tuple[str, str]:
        response = self.client.post(
            self.ADD,
            {"team": "research", "name": "notebook", "active": "on", "requests_per_minute": "60"},
        )
        assert response.status_code == 200, response.content
        page = response.content.decode()
        secret = re.search(r'id="gateway-key-secret"[^>]*>(hr-[A-Za-z0-9_-]+)<', page).group(1)
        return secret, response["cache-control"]

    def test_adding_a_key_shows_its_secret_once_on_a_page_that_is_not_cached(self) -> None:
        secret, cache_control = self.add_key()
        key = GatewayKey.objects.get()
        assert (key.team, key.name, key.requests_per_minute) == ("research", "notebook", 60)
        assert key.secret_hash == issuing.hash_secret(secret)
        assert "no-store" in cache_control

    def test_the_key_list_reads_budgets_in_dollars(self) -> None:
        self.add_key()
        GatewayKey.objects.update(monthly_budget_usd=Decimal("1250.5"))
        page = self.client.get("/admin/keys/gatewaykey/").content.decode()
        assert '<td class="field-monthly_budget">$1,250.50</td>' in page

    def test_the_secret_is_never_shown_again_nor_kept_anywhere(self) -> None:
        secret, _ = self.add_key()
        key = GatewayKey.objects.get()
        pages = [
            self.client.get("/admin/keys/gatewaykey/").content,
            self.client.get(f"/admin/keys/gatewaykey/{key.pk}/change/").content,
            self.client.get(f"/admin/keys/gatewaykey/{key.pk}/history/").content,
            self.client.get("/admin/").content,
        ]
        assert not any(secret.encode() in page for page in pages)
        assert secret[:8].encode() in pages[0]
        assert not any(secret in str(entry.__dict__) for entry in LogEntry.objects.all())
        assert "hr-" not in str(self.client.session.items())

    def test_editing_a_key_keeps_its_secret(self) -> None:
        secret, _ = self.add_key()
        key = GatewayKey.objects.get()
        response = self.client.post(
            f"/admin/keys/gatewaykey/{key.pk}/change/",
            {"team": "research", "name": "renamed", "requests_per_minute": "5"},
        )
        assert response.status_code == 302
        key.refresh_from_db()
        assert (key.name, key.active, key.secret_hash) == (
            "renamed",
            False,
            issuing.hash_secret(secret),
        )


class CreateGatewayKeyCommandTests(TestCase):
    def run_command(self, *args: str) -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        call_command("create_gateway_key", *args, stdout=out, stderr=err)
        return out.getvalue(), err.getvalue()

    def test_it_prints_only_the_secret_on_stdout_and_stores_its_hash(self) -> None:
        out, err = self.run_command("--team", "data-science")
        secret = out.strip()
        key = GatewayKey.objects.get()
        assert re.fullmatch(r"hr-[A-Za-z0-9_-]{32,}", secret)
        assert key.secret_hash == issuing.hash_secret(secret)
        assert key.team == "data-science"
        assert "shown only this once" in err
        assert secret not in err

    def test_it_sets_name_rate_budget_and_expiry(self) -> None:
        self.run_command(
            "--team", "ops", "--name", "ci", "--rpm", "30", "--budget", "12.5",
            "--expires", "2031-02-03",
        )  # fmt: skip
        key = GatewayKey.objects.get()
        assert (key.name, key.requests_per_minute) == ("ci", 30)
        assert key.monthly_budget_usd == Decimal("12.50")
        assert key.expires == timezone.make_aware(datetime(2031, 2, 3))

    def test_it_refuses_a_malformed_expiry_date_and_creates_nothing(self) -> None:
        with pytest.raises(CommandError, match="--expires"):
            self.run_command("--team", "ops", "--expires", "next week")
        assert not GatewayKey.objects.exists()

    def test_it_refuses_a_negative_budget(self) -> None:
        with pytest.raises(CommandError, match="--budget"):
            self.run_command("--team", "ops", "--budget", "-1")
        assert not GatewayKey.objects.exists()
