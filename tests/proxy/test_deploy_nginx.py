"""deploy/nginx/headroom.conf in front of a real gateway: the site file as shipped, with only its
ports, certificate and gateway address replaced, served by Debian's nginx from a private prefix.
Streams arrive event by event over HTTPS with the gateway's headers, and the gateway believes the
proxy's X-Forwarded-* headers only when HEADROOM_TRUSTED_PROXIES names it.

The gateway records no client address of its own; what the trusted proxy changes is what Django
sees (HTTPS, host, REMOTE_ADDR) for the admin and dashboard. tests/test_deploy_forwarded.py covers
REMOTE_ADDR; here the admin's HTTPS handling shows the headers were believed or not.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User

from tests.conftest import Gateway, free_port, start_gateway, stop_gateway
from tests.deploy import NGINX, render_site, start_nginx, stop_nginx
from tests.mock_upstream import MockUpstream, Reply

pytestmark = pytest.mark.skipif(
    NGINX is None, reason="needs nginx (tests/install-system-deps.sh installs it)"
)

# The upstream's pause between the first event and the rest: long enough that a buffering proxy
# would visibly hold the first event back.
STREAM_PAUSE_SECONDS = 1.5
STAFF = ("ops", "nginx-admin-pw-1")


@dataclass
class Site:
    url: str
    gateway: Gateway
    nginx: subprocess.Popen
    prefix: Path


def site_fixture(
    tmp_path_factory: pytest.TempPathFactory, upstream_pool: list[MockUpstream], trusted: bool
) -> Iterator[Site]:
    prefix = tmp_path_factory.mktemp("nginx")
    http_port, https_port = free_port(), free_port()
    env = {
        "DJANGO_SECURE_COOKIES": "true",
        "DJANGO_HSTS_SECONDS": "3600",
        "HEADROOM_TRUSTED_PROXIES": "127.0.0.1" if trusted else "",
        # As deploy/headroom.env names the admin's origin (here with its test port).
        "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{https_port}" if trusted else "",
    }
    gateway = start_gateway(prefix / "gateway.log", env, defaults_url=upstream_pool[3].url)
    try:
        gateway_port = int(gateway.url.rsplit(":", 1)[1])
        site = render_site(prefix, http_port, https_port, gateway_port)
        nginx = start_nginx(prefix, site, https_port)
    except BaseException:
        stop_gateway(gateway)
        raise
    try:
        yield Site(f"https://127.0.0.1:{https_port}", gateway, nginx, prefix)
    finally:
        stop_nginx(nginx)
        stop_gateway(gateway)


@pytest.fixture(scope="module")
def trusted_site(
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    upstream_pool: list[MockUpstream],
) -> Iterator[Site]:
    yield from site_fixture(tmp_path_factory, upstream_pool, trusted=True)


@pytest.fixture(scope="module")
def untrusted_site(
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
    upstream_pool: list[MockUpstream],
) -> Iterator[Site]:
    yield from site_fixture(tmp_path_factory, upstream_pool, trusted=False)


CHUNK = b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"delta":{"content":"%s"}}]}'
EVENTS = [CHUNK % b"He" + b"\n\n", CHUNK % b"y" + b"\n\n", b"data: [DONE]\n\n"]


def test_a_stream_passes_nginx_event_by_event_with_the_gateway_headers(
    trusted_site: Site, default_upstream: MockUpstream, transactional_db: None
) -> None:
    default_upstream.reply_with(Reply.sse(EVENTS, delays=[0.0, STREAM_PAUSE_SECONDS, 0.0]))
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    received = b""
    first_event_at = None
    with (
        httpx.Client(verify=False, timeout=30) as client,
        client.stream(
            "POST",
            f"{trusted_site.url}/v1/chat/completions",
            json=body,
            headers={"authorization": "Bearer sk-client", "x-forwarded-for": "198.51.100.7"},
        ) as response,
    ):
        for chunk in response.iter_raw():
            received += chunk
            if first_event_at is None and EVENTS[0] in received:
                first_event_at = time.monotonic()
        ended_at = time.monotonic()
    assert response.status_code == 200
    assert received == b"".join(EVENTS)
    assert first_event_at is not None
    assert ended_at - first_event_at >= STREAM_PAUSE_SECONDS * 0.8
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert re.fullmatch(r"[0-9a-f-]{16,}", response.headers["x-headroom-request-id"])
    assert response.headers["x-headroom-route"] == "default"
    # The proxy's headers stop at the gateway: nothing about the client goes upstream.
    (sent,) = default_upstream.requests
    assert sent.header("x-forwarded-for") is None
    assert sent.header("x-forwarded-proto") is None


def admin_login(site: Site) -> tuple[httpx.Response, httpx.Response]:
    """GET the admin login page through nginx, then log in as a browser would (with Origin)."""
    User.objects.create_superuser(STAFF[0], "ops@example.com", STAFF[1])
    with httpx.Client(base_url=site.url, verify=False, timeout=10) as client:
        page = client.get("/admin/login/")
        token = client.cookies["csrftoken"]
        login = client.post(
            "/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": token, "username": STAFF[0], "password": STAFF[1]},
            headers={"origin": site.url, "referer": f"{site.url}/admin/login/"},
        )
    return page, login


def test_the_admin_is_https_behind_a_trusted_proxy(
    trusted_site: Site, transactional_db: None
) -> None:
    page, login = admin_login(trusted_site)
    assert page.status_code == 200
    assert page.headers["strict-transport-security"] == "max-age=3600"
    assert "Secure" in page.headers["set-cookie"]
    assert (login.status_code, login.headers["location"]) == (302, "/admin/")


def test_the_gateway_ignores_the_headers_of_a_proxy_it_does_not_trust(
    untrusted_site: Site, transactional_db: None
) -> None:
    # X-Forwarded-Proto is dropped, so the gateway sees plain HTTP: no HSTS, and a login from
    # the https:// origin is refused as cross-origin.
    page, login = admin_login(untrusted_site)
    assert page.status_code == 200
    assert "strict-transport-security" not in page.headers
    assert login.status_code == 403
