"""X-Forwarded-* from a trusted proxy set the client address, scheme and host Django sees (the
gateway records no client address itself; REMOTE_ADDR is what the admin and dashboard see), and
from anyone else they are dropped before Django reads them.
"""

from __future__ import annotations

from io import BytesIO

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIRequest

from proxy.forwarded import TrustedProxyHeaders, client_address, networks

TRUSTED = networks(("127.0.0.1", "10.0.0.0/8"))


def request_through(peer: str, headers: dict[str, str]) -> ASGIRequest:
    """The Django request built from the scope the middleware passes on."""
    seen: list[dict] = []

    async def app(scope: dict, receive: object, send: object) -> None:
        seen.append(scope)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/admin/login/",
        "query_string": b"",
        "scheme": "http",
        "headers": [(b"host", b"127.0.0.1")]
        + [(name.encode(), value.encode()) for name, value in headers.items()],
        "client": (peer, 40000),
    }
    async_to_sync(TrustedProxyHeaders(app))(scope, None, None)
    return ASGIRequest(seen[0], BytesIO())


def test_the_client_address_is_the_nearest_untrusted_hop() -> None:
    assert client_address("198.51.100.7, 203.0.113.9", "127.0.0.1", TRUSTED) == "203.0.113.9"
    assert client_address("203.0.113.9, 10.1.2.3", "127.0.0.1", TRUSTED) == "203.0.113.9"


def test_a_spoofed_leftmost_entry_does_not_win() -> None:
    # nginx appends the address it saw, so what a client wrote itself stays on the left.
    assert client_address("1.2.3.4, 203.0.113.9", "127.0.0.1", TRUSTED) == "203.0.113.9"


def test_a_malformed_entry_ends_the_walk() -> None:
    assert client_address("203.0.113.9, junk, 10.1.2.3", "127.0.0.1", TRUSTED) == "10.1.2.3"
    assert client_address("junk", "127.0.0.1", TRUSTED) == "127.0.0.1"


@pytest.mark.parametrize("peer", ["127.0.0.1", "::ffff:127.0.0.1"])
def test_a_trusted_proxy_sets_remote_addr_scheme_and_host(settings: object, peer: str) -> None:
    settings.HEADROOM_TRUSTED_PROXIES = ["127.0.0.1"]  # type: ignore[attr-defined]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # type: ignore[attr-defined]
    settings.USE_X_FORWARDED_HOST = True  # type: ignore[attr-defined]
    request = request_through(
        peer,
        {
            "x-forwarded-for": "203.0.113.9",
            "x-forwarded-proto": "https",
            "x-forwarded-host": "localhost",
        },
    )
    assert request.META["REMOTE_ADDR"] == "203.0.113.9"
    assert request.is_secure()
    assert request.get_host() == "localhost"


def test_an_untrusted_peer_cannot_claim_https_a_host_or_an_address(settings: object) -> None:
    settings.HEADROOM_TRUSTED_PROXIES = ["10.0.0.1"]  # type: ignore[attr-defined]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # type: ignore[attr-defined]
    settings.USE_X_FORWARDED_HOST = True  # type: ignore[attr-defined]
    request = request_through(
        "127.0.0.1",
        {
            "x-forwarded-for": "203.0.113.9",
            "x-forwarded-proto": "https",
            "x-forwarded-host": "evil.example",
        },
    )
    assert request.META["REMOTE_ADDR"] == "127.0.0.1"
    assert not request.is_secure()
    assert request.get_host() == "127.0.0.1"
    assert not any(key.startswith("HTTP_X_FORWARDED") for key in request.META)


def test_without_trusted_proxies_every_forwarded_header_is_dropped(settings: object) -> None:
    settings.HEADROOM_TRUSTED_PROXIES = []  # type: ignore[attr-defined]
    request = request_through("127.0.0.1", {"x-forwarded-for": "203.0.113.9"})
    assert request.META["REMOTE_ADDR"] == "127.0.0.1"
    assert "HTTP_X_FORWARDED_FOR" not in request.META
