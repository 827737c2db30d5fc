"""/metrics is read only by whom it is meant for: with keys required (or a metrics token set) it
needs the token or a valid gateway key, and it holds to ALLOWED_HOSTS like every page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from keys import admission, issuing


@pytest.fixture(autouse=True)
def _fresh_keys() -> Iterator[None]:
    admission.reset()
    yield
    admission.reset()


@pytest.mark.django_db
def test_with_keys_required_metrics_need_a_valid_gateway_key(
    client: Client, settings: object
) -> None:
    settings.HEADROOM_REQUIRE_KEY = True  # type: ignore[attr-defined]
    _, secret = issuing.issue(team="ops", name="prometheus")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"authorization": "Bearer hr-wrong"}).status_code == 401
    allowed = client.get("/metrics", headers={"authorization": f"Bearer {secret}"})
    assert allowed.status_code == 200
    assert b"headroom_" in allowed.content


@pytest.mark.django_db
def test_a_metrics_token_is_required_once_set(client: Client, settings: object) -> None:
    settings.HEADROOM_METRICS_TOKEN = "scrape-token-1"  # type: ignore[attr-defined]
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    token = {"authorization": "Bearer scrape-token-1"}
    assert client.get("/metrics", headers=token).status_code == 200


@pytest.mark.django_db
def test_metrics_hold_to_allowed_hosts(client: Client, settings: object) -> None:
    settings.ALLOWED_HOSTS = ["gateway.example"]  # type: ignore[attr-defined]
    assert client.get("/metrics", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/metrics", headers={"host": "gateway.example"}).status_code == 200
