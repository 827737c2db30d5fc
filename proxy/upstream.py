"""The upstream side: the shared httpx client, header filtering in both directions, sending.

One client per process keeps connections pooled; redirects are never followed and proxy
environment variables are ignored, so a request goes exactly where the resolver said.
"""

from __future__ import annotations

import httpx
from django.conf import settings

from proxy.protocols import CREDENTIAL_HEADERS

# Never copied in either direction (SPEC §5); proxy-* is matched by prefix.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}
    | {"content-length"}
)
# Request headers that would leak the gateway's own cookies or the caller's network layout to a
# provider, or ask the upstream for a compressed body the gateway would have to undo.
_DROPPED_REQUEST = frozenset(
    {"cookie", "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"}
    | {"x-real-ip", "accept-encoding"}
)
# Cookies set by a provider mean nothing on the gateway's origin and could shadow its own.
_DROPPED_RESPONSE = frozenset({"set-cookie"})

_client: httpx.AsyncClient | None = None


def make_transport() -> httpx.AsyncBaseTransport:
    """The transport under the shared client; tests patch this seam with a MockTransport."""
    limits = httpx.Limits(
        max_connections=settings.HEADROOM_MAX_CONNECTIONS,
        max_keepalive_connections=settings.HEADROOM_MAX_CONNECTIONS,
        keepalive_expiry=30.0,
    )
    return httpx.AsyncHTTPTransport(limits=limits, retries=0)


def timeout(connect: float | None = None, read: float | None = None) -> httpx.Timeout:
    connect = connect or settings.HEADROOM_CONNECT_TIMEOUT
    read = read or settings.HEADROOM_UPSTREAM_TIMEOUT
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def client() -> httpx.AsyncClient:
    global _client
    if _client is None:
        _client = httpx.AsyncClient(
            transport=make_transport(),
            timeout=timeout(),
            follow_redirects=False,
            trust_env=False,
        )
    return _client


async def reset_client() -> None:
    """Close the shared client (shutdown, and tests that swap the transport)."""
    global _client
    current, _client = _client, None
    if current is not None:
        await current.aclose()


def _is_hop_by_hop(name: str) -> bool:
    return name in HOP_BY_HOP or name.startswith("proxy-")


def outbound_headers(
    raw: list[tuple[bytes, bytes]], *, strip_credentials: bool
) -> list[tuple[str, str]]:
    """Client headers as they go upstream: x-headroom-*, hop-by-hop and cookies removed."""
    headers = []
    for name_bytes, value_bytes in raw:
        name = name_bytes.decode("latin-1").lower()
        if name.startswith("x-headroom-") or _is_hop_by_hop(name) or name in _DROPPED_REQUEST:
            continue
        if strip_credentials and name in CREDENTIAL_HEADERS:
            continue
        headers.append((name, value_bytes.decode("latin-1")))
    # Plain bytes keep the relay byte-exact and cost no decompression on the hot path.
    headers.append(("accept-encoding", "identity"))
    return headers


def inbound_headers(response: httpx.Response) -> list[tuple[str, str]]:
    """Upstream response headers as they go to the client."""
    return [
        (name, value)
        for name, value in response.headers.multi_items()
        if not _is_hop_by_hop(name) and name not in _DROPPED_RESPONSE
    ]


async def send(request: httpx.Request) -> httpx.Response:
    """Send and return once the response headers are in; the body is still to be read."""
    return await client().send(request, stream=True, follow_redirects=False)
