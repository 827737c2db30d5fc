"""X-Forwarded-* headers count only when they come from a proxy in HEADROOM_TRUSTED_PROXIES.

From a trusted proxy, the client address (REMOTE_ADDR) becomes the nearest address in
X-Forwarded-For that is not itself a trusted proxy, and Django believes X-Forwarded-Proto and
X-Forwarded-Host (settings.SECURE_PROXY_SSL_HEADER, USE_X_FORWARDED_HOST). From anyone else the
headers are removed before Django sees them, so a client that reaches the gateway directly cannot
claim HTTPS, another host name or another address.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.conf import settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PREFIX = b"x-forwarded-"


@functools.lru_cache(maxsize=8)
def networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """`127.0.0.1`, `10.0.0.0/8`, `::1`: each entry of HEADROOM_TRUSTED_PROXIES as a network."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in trusted)


def client_address(forwarded_for: str, peer: str, trusted: tuple[Network, ...]) -> str:
    """The client behind the proxies: each proxy appends the address it saw, so the list is read
    from the right, past the trusted proxies. A malformed entry ends the walk there."""
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        candidate = entry.strip()
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            break
        client = candidate
        if not is_trusted(candidate, trusted):
            break
    return client


class TrustedProxyHeaders:
    """ASGI middleware in front of the whole site (HTTP and WebSocket)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = self.resolve(scope)
        await self.app(scope, receive, send)

    def resolve(self, scope: Scope) -> Scope:
        headers = scope.get("headers", [])
        if not any(name.startswith(PREFIX) for name, _value in headers):
            return scope
        trusted = networks(tuple(settings.HEADROOM_TRUSTED_PROXIES))
        peer = (scope.get("client") or ("", 0))[0]
        if not is_trusted(peer, trusted):
            kept = [(name, value) for name, value in headers if not name.startswith(PREFIX)]
            return {**scope, "headers": kept}
        # Several X-Forwarded-For headers are one list, in order.
        forwarded = ",".join(
            value.decode("latin-1") for name, value in headers if name == b"x-forwarded-for"
        )
        if not forwarded:
            return scope
        return {**scope, "client": (client_address(forwarded, peer, trusted), 0)}
