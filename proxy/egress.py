"""SSRF-safe egress for client-chosen upstream names (SPEC §3): resolve once, check, pin.

The request leaves for the checked address while `Host` and TLS SNI keep the name, so a DNS
answer that changes between the check and the connection (rebinding) is never consulted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from proxy.errors import GatewayError
from routing.resolver import Resolution

logger = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Called like loop.getaddrinfo(host, port, type=…); answers are (family, type, proto, canon, addr).
Resolver = Callable[..., Awaitable[list[tuple[Any, ...]]]]

# Cloud metadata and platform endpoints: refused for a name even when its entry allows private
# answers, because a credential-bearing request must never reach the host's own identity service.
METADATA = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack
        "169.254.170.2",  # AWS ECS task credentials
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
        "168.63.129.16",  # Azure platform (wireserver)
        "fd00:ec2::254",  # AWS over IPv6
        "fd20:ce::254",  # GCP over IPv6
    )
)
# Categories no allowlist entry can permit: none of them is a server an operator would name.
ALWAYS_REFUSED = frozenset({"metadata", "unspecified", "multicast", "scoped link-local"})


def _ranges(
    *pairs: tuple[str, str],
) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]:
    return tuple((ipaddress.ip_network(net), category) for net, category in pairs)


# The IANA special-purpose registries, written out because ipaddress.is_global differs between
# Python patch releases (3.11.7 calls multicast, fec0::/10 and 192.0.0.192 global).
_IPV4_RANGES = _ranges(
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "reserved"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),
    ("198.51.100.0/24", "reserved"),
    ("203.0.113.0/24", "reserved"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # includes the broadcast address
)
_IPV6_RANGES = _ranges(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "private"),  # local-use NAT64
    ("100::/64", "reserved"),
    ("2001::/23", "reserved"),  # protocol assignments, Teredo included
    ("2001:db8::/32", "reserved"),
    ("3fff::/20", "reserved"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
# Only global unicast space can hold a public IPv6 server.
_IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


async def system_getaddrinfo(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
    """The default resolver: the event loop's getaddrinfo (a thread, never blocking the loop)."""
    return await asyncio.get_running_loop().getaddrinfo(host, port, **kwargs)


async def pin(
    request: httpx.Request, resolution: Resolution, *, resolver: Resolver | None = None
) -> httpx.Request:
    """The request aimed at a checked address of its host; 403 if any address is non-public."""
    name = request.url.raw_host.decode("ascii")
    port = request.url.port or (443 if request.url.scheme == "https" else 80)
    addresses = await lookup(name, port, resolver or system_getaddrinfo, _connect_timeout(request))
    for address in addresses:
        category = classify(address)
        if category is None or (resolution.allow_private and category not in ALWAYS_REFUSED):
            continue
        logger.warning("override to %s refused: it resolves to %s (%s)", name, address, category)
        raise GatewayError(
            403,
            "upstream override refused: the upstream host resolves to a non-public address",
            "override_refused",
        )
    return pinned(request, addresses[0])


async def lookup(name: str, port: int, resolver: Resolver, timeout: float | None) -> list[Address]:
    """Every address the name has right now, resolved exactly once."""
    try:
        async with asyncio.timeout(timeout):
            answers = await resolver(name, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise GatewayError(
            504, "timed out resolving the upstream host", "upstream_timeout"
        ) from None
    except (OSError, UnicodeError):
        answers = []
    addresses: list[Address] = []
    for answer in answers:
        address = _parse(answer[4][0])
        # Only the pinned address is ever contacted, so an unusable answer can be skipped.
        if address is not None and address not in addresses:
            addresses.append(address)
    if not addresses:
        logger.warning("override to %s failed: the name did not resolve", name)
        raise GatewayError(502, "could not resolve the upstream host", "upstream_unresolvable")
    return addresses


def _parse(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def classify(address: Address) -> str | None:
    """Why the address is not a public server (a category for the log), or None when it is."""
    if address in METADATA:
        return "metadata"
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "scoped link-local"
        embedded = embedded_ipv4(address)
        if embedded is not None:
            return classify(embedded)
    for network, category in _IPV4_RANGES if address.version == 4 else _IPV6_RANGES:
        if address in network:
            return category
    if address.version == 6 and address not in _IPV6_GLOBAL_UNICAST:
        return "reserved"
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, -compatible, NAT64 or 6to4 address leads to."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    # :: and ::1 live inside ::/96 but are IPv6's own unspecified and loopback addresses.
    if (address in _IPV4_COMPATIBLE and int(address) > 1) or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def pinned(request: httpx.Request, address: Address) -> httpx.Request:
    """A copy sent to the address; Host, and for https SNI and the certificate, use the name."""
    name = request.url.raw_host.decode("ascii")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    headers = httpx.Headers(request.headers)
    headers["Host"] = request.url.netloc.decode("ascii")
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        extensions["sni_hostname"] = name
    copy = httpx.Request(
        request.method,
        request.url.copy_with(host=str(address)),
        headers=headers,
        stream=request.stream,
        extensions=extensions,
    )
    if isinstance(request.stream, httpx.ByteStream):
        copy.read()
    return copy


def _connect_timeout(request: httpx.Request) -> float | None:
    timeout: float | None = request.extensions.get("timeout", {}).get("connect")
    return timeout
