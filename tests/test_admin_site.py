"""The admin as a whole: the product's name, "View site" and the way to the dashboard."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_admin_carries_the_product_name(admin_client: Client) -> None:
    body = admin_client.get("/admin/").content.decode()
    assert "<title>Routes, keys, prices and the request log | Headroom Gateway</title>" in body
    assert '<a href="/admin/">Headroom Gateway</a>' in body


def test_view_site_opens_the_dashboard(admin_client: Client) -> None:
    body = admin_client.get("/admin/").content.decode()
    assert '<a href="/dashboard/">View site</a>' in body
    assert admin_client.get("/dashboard/").status_code == 200


def test_the_admin_index_links_to_the_dashboard(admin_client: Client) -> None:
    body = admin_client.get("/admin/").content.decode()
    assert 'id="dashboard-link"' in body
    assert '<a href="/dashboard/">open the dashboard</a>' in body


def test_the_login_page_carries_the_product_name(client: Client) -> None:
    body = client.get("/admin/login/").content.decode()
    assert "Headroom Gateway" in body
    assert "Django administration" not in body
