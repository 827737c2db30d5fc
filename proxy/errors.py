"""Gateway-made errors (SPEC §6): one exception type, one renderer per family, one httpx map."""

from __future__ import annotations

import httpx
from django.http import HttpResponse

from proxy import wire


class GatewayError(Exception):
    """An error the gateway answers itself, in the caller's wire format."""

    def __init__(
        self, status: int, message: str, code: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        # Extra response headers, e.g. `retry-after` on a 429.
        self.headers = headers or {}


def error_response(family: str, error: GatewayError) -> HttpResponse:
    body = wire.get(family).error_body(error.status, error.message, error.code)
    response = HttpResponse(body, status=error.status, content_type="application/json")
    response["content-length"] = str(len(body))
    for name, value in error.headers.items():
        response[name] = value
    return response


def stream_error_forms(family: str, error: GatewayError) -> tuple[bytes, bytes]:
    """The error for a body already under way: as the family's stream event, and as a JSON
    document for a body that is not a stream of events."""
    module = wire.get(family)
    return (
        module.stream_error(error.status, error.message, error.code),
        module.error_body(error.status, error.message, error.code),
    )


class StreamIdle(httpx.ReadTimeout):
    """A stream went longer than its route's idle_timeout without a chunk."""


class StreamIncomplete(httpx.RemoteProtocolError):
    """An event stream ended without its family's final event."""


class ResponseTooLarge(httpx.ReadError):
    """An upstream body passed HEADROOM_MAX_RESPONSE_BYTES."""


def from_httpx(exc: httpx.HTTPError) -> GatewayError:
    """Map a transport failure to a status; messages never name the upstream host."""
    if isinstance(exc, StreamIdle):
        return GatewayError(504, "the upstream stream stalled", "upstream_idle")
    if isinstance(exc, StreamIncomplete):
        return GatewayError(
            502, "the upstream ended the stream before its final event", "upstream_incomplete"
        )
    if isinstance(exc, ResponseTooLarge):
        return GatewayError(
            502, "the upstream response is larger than the gateway allows", "upstream_too_large"
        )
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return GatewayError(504, "timed out connecting to the upstream", "upstream_timeout")
    if isinstance(exc, httpx.TimeoutException):
        return GatewayError(504, "the upstream did not answer in time", "upstream_timeout")
    if isinstance(exc, httpx.ConnectError):
        return GatewayError(502, "upstream refused the connection", "upstream_unreachable")
    if isinstance(exc, httpx.RemoteProtocolError):
        return GatewayError(502, "the upstream closed the connection early", "upstream_closed")
    return GatewayError(502, "the upstream request failed", "upstream_error")
