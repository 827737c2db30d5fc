"""The per-worker route table: no query per request, invalidation on save, the poller."""

from __future__ import annotations

import time

import pytest
from django.test import TestCase, override_settings

from routing import table
from routing.models import AllowedUpstream, UpstreamRoute
from tests.conftest import UpstreamSeam


class RouteTableCachingTests(TestCase):
    @pytest.fixture(autouse=True)
    def _seam(self, upstream_seam: UpstreamSeam) -> None:
        self.seam = upstream_seam

    def test_a_proxied_request_makes_no_query_when_nothing_changed(self) -> None:
        UpstreamRoute.objects.create(model_prefix="*", upstream="http://127.0.0.1:9")
        headers = {"authorization": "Bearer k"}
        self.client.post(
            "/v1/chat/completions", {"model": "m"}, content_type="application/json", headers=headers
        )
        with self.assertNumQueries(0):
            response = self.client.post(
                "/v1/chat/completions",
                {"model": "m"},
                content_type="application/json",
                headers=headers,
            )
        assert response.status_code == 200
        assert [str(r.url) for r in self.seam.requests] == [
            "http://127.0.0.1:9/v1/chat/completions"
        ] * 2

    async def test_saving_a_route_in_this_worker_applies_at_once(self) -> None:
        route = await UpstreamRoute.objects.acreate(model_prefix="*", upstream="http://127.0.0.1:9")
        headers = {"authorization": "Bearer k"}
        await self.async_client.get("/v1/models", headers=headers)
        route.upstream = "http://127.0.0.1:10"
        await route.asave()
        await self.async_client.get("/v1/models", headers=headers)
        assert [r.url.port for r in self.seam.requests] == [9, 10]

    async def test_adding_an_allowed_upstream_applies_at_once(self) -> None:
        headers = {"authorization": "Bearer k", "x-headroom-base-url": "http://127.0.0.1:11"}
        refused = await self.async_client.get("/v1/models", headers=headers)
        await AllowedUpstream.objects.acreate(url="http://127.0.0.1:11")
        allowed = await self.async_client.get("/v1/models", headers=headers)
        assert (refused.status_code, allowed.status_code) == (403, 200)


@pytest.mark.django_db(transaction=True)
def test_the_poller_picks_up_changes_that_bypass_signals(settings: object) -> None:
    UpstreamRoute.objects.create(model_prefix="glm-", upstream="http://127.0.0.1:9")
    settings.HEADROOM_ROUTES_POLL_SECONDS = 0.05  # type: ignore[attr-defined]
    before = table.current_sync()
    # queryset.update() sends no signal: only the poller can notice it.
    UpstreamRoute.objects.update(upstream="http://127.0.0.1:10")
    deadline = time.monotonic() + 3
    while table.current_sync() is before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert table.current_sync().routes[0].upstream == "http://127.0.0.1:10"
    settings.HEADROOM_ROUTES_POLL_SECONDS = 0  # type: ignore[attr-defined]
    table._copy.poller.join(1)


@pytest.mark.django_db
@override_settings(
    HEADROOM_ALLOWED_UPSTREAMS=["https://a.example", "private:https://b.example", "nope"]
)
def test_the_environment_allowlist_is_parsed_once_and_bad_items_are_skipped() -> None:
    allowed = table.current_sync().allowed
    assert [(entry.host, entry.allow_private) for entry in allowed] == [
        ("a.example", False),
        ("b.example", True),
    ]
