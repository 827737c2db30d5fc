"""The upstream side: the shared transport, header filtering in both directions, sending.

One transport per process keeps connections pooled; redirects are never followed and proxy
environment variables are ignored, so a request goes exactly where the resolver said.
"""

from __future__ import annotations

import ssl
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx
import yarl
from django.conf import settings
from httpx_aiohttp import AiohttpTransport

from proxy.wire import CREDENTIAL_HEADERS

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

_transport: httpx.AsyncBaseTransport | None = None


def make_transport() -> httpx.AsyncBaseTransport:
    """The shared transport; tests patch this seam with an httpx.MockTransport.

    aiohttp's connection pool and C parser cost half the CPU per request of httpx's own
    transport (bench/latency.py); httpx stays the API the rest of the gateway speaks.
    """
    return AiohttpTransport(client=_session)


with warnings.catch_warnings():
    # aiohttp discourages subclassing (a DeprecationWarning at class creation); this one only
    # changes how a URL string is read.
    warnings.simplefilter("ignore", DeprecationWarning)

    class _EncodedURLSession(aiohttp.ClientSession):
        """httpx hands over URLs already percent-encoded exactly as the client sent them;
        aiohttp would re-quote them (`%2F` to `/`, `%41` to `A`), so they go on as encoded."""

        def _request(self, method: str, str_or_url: Any, **kwargs: Any) -> Any:
            if isinstance(str_or_url, str):
                str_or_url = yarl.URL(str_or_url, encoded=True)
            return super()._request(method, str_or_url, **kwargs)


def _session() -> aiohttp.ClientSession:
    # Built on first use, inside the server's event loop. No cookie jar (one tenant's cookies
    # must never reach another's request), no automatic headers (the client's own go as sent),
    # no proxy variables, no decompression (bytes are relayed as they came).
    connector = aiohttp.TCPConnector(
        limit=settings.HEADROOM_MAX_CONNECTIONS,
        limit_per_host=settings.HEADROOM_MAX_CONNECTIONS_PER_HOST,
        keepalive_timeout=30.0,
        ssl=ssl.create_default_context(),
    )
    return _EncodedURLSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        auto_decompress=False,
        trust_env=False,
    )


def timeout(connect: float | None = None, read: float | None = None) -> httpx.Timeout:
    connect = connect or settings.HEADROOM_CONNECT_TIMEOUT
    read = read or settings.HEADROOM_UPSTREAM_TIMEOUT
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def transport() -> httpx.AsyncBaseTransport:
    global _transport
    if _transport is None:
        _transport = make_transport()
    return _transport


async def reset_client() -> None:
    """Close the shared transport (shutdown, and tests that swap it)."""
    global _transport
    current, _transport = _transport, None
    if current is not None:
        await current.aclose()


def build_request(
    method: str, url: str, headers: list[tuple[str, str]], body: bytes, limits: httpx.Timeout
) -> httpx.Request:
    return httpx.Request(
        method, url, headers=headers, content=body, extensions={"timeout": limits.as_dict()}
    )


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


def response_headers(response: httpx.Response) -> list[tuple[str, str]]:
    """Upstream response headers as the client gets them: repeated ones joined with ", "."""
    merged: dict[str, str] = {}
    for name, value in inbound_headers(response):
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return list(merged.items())


async def send(request: httpx.Request) -> httpx.Response:
    """Send and return once the response headers are in; the body is still to be read.

    The transport is called directly: no client layer means no redirects followed, no cookie
    jar and no default headers added.
    """
    with _precise_errors():
        response = await transport().handle_async_request(request)
    response.request = request
    # A transport's async side streams asynchronously; httpx's AsyncClient checks it the same way.
    assert isinstance(response.stream, httpx.AsyncByteStream)
    response.stream = _MappedStream(response.stream)
    return response


def abort(response: httpx.Response) -> None:
    """Cut the connection under a response being read, so that the pending read fails at once
    (a graceful stop ending a stream); a response of another transport is left alone."""
    mapped = response.stream
    inner = getattr(mapped, "stream", None) if isinstance(mapped, _MappedStream) else None
    connection = getattr(getattr(inner, "_aiohttp_response", None), "connection", None)
    transport = getattr(connection, "transport", None)
    if transport is not None:
        transport.abort()


_AIOHTTP_ERRORS = (aiohttp.ClientError, TimeoutError)


@contextmanager
def _precise_errors() -> Iterator[None]:
    """Raise aiohttp failures as their precise httpx errors.

    The transport's own mapping is coarse (a refused connection comes out as a connect
    timeout), so failures are mapped again from their aiohttp cause; it lets some through raw.
    """
    try:
        yield
    except httpx.HTTPError as exc:
        if not isinstance(exc.__cause__, _AIOHTTP_ERRORS):
            raise
        raise as_httpx_error(exc.__cause__) from exc.__cause__
    except _AIOHTTP_ERRORS as exc:
        raise as_httpx_error(exc) from exc


def as_httpx_error(exc: BaseException) -> httpx.TransportError:
    """An aiohttp failure as the httpx error the rest of the gateway handles."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc))
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout(str(exc))
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc))
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(str(exc))
    return httpx.ReadError(str(exc))


class _MappedStream(httpx.AsyncByteStream):
    """The response body, with every aiohttp failure raised as its precise httpx error."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self.stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _precise_errors():
            async for chunk in self.stream:
                yield chunk

    async def aclose(self) -> None:
        await self.stream.aclose()
