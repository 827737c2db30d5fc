"""Request intake under Daphne: a body over HEADROOM_MAX_BODY_BYTES is refused while it is read
(a declared length before any of it), and a client that sends its request too slowly is cut off.

Twisted reads a whole request before Daphne hands it to the application, so these limits cannot
live in the ASGI handler: by then a 300 MiB upload has been read. `install()` swaps Daphne's
request class for `LimitedRequest`, which answers 413 or 408 itself, in the caller's format,
and logs a client that leaves halfway through its body as a 499.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import daphne.server
from daphne.http_protocol import HTTPFactory, WebRequest
from django.conf import settings
from twisted.internet import reactor as _reactor

from proxy import record, wire
from proxy.asgi import GATEWAY_PREFIXES
from proxy.errors import GatewayError, error_response
from routing.families import Family

# Twisted's reactor module is typed as an interface; the running reactor is what is called.
reactor: Any = _reactor

# After a refusal the rest of the body is read and thrown away for this long, so a client that
# sends its whole body before reading (most do) still gets the answer instead of a reset.
LINGER_SECONDS = 10.0
# How long a closing connection may take to flush the answer before it is aborted.
CLOSE_SECONDS = 5.0


class Discard:
    """Where a refused body goes: nowhere, so memory and disk stay flat whatever is sent."""

    def write(self, data: bytes) -> None:
        pass

    def seek(self, *args: object) -> None:
        pass

    def read(self, *args: object) -> bytes:
        return b""

    def close(self) -> None:
        pass


class LimitedRequest(WebRequest):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Daphne hands the raw body to the application and never reads `request.args`; left on,
        # Twisted parses every POST's content type through the email package to fill them.
        self._parsePOSTFormSubmission = False
        self.body_limit = settings.HEADROOM_MAX_BODY_BYTES
        self.body_received = 0
        self.refused = False
        # Between the end of the headers and the end of the body: a connection lost then is a
        # client that gave up while sending.
        self.sending_body = False
        # From the request line to the end of the body; the channel's idle timeout covers gaps
        # between requests and before the request line.
        seconds = settings.HEADROOM_CLIENT_READ_TIMEOUT
        self.read_deadline: Any = None
        if seconds > 0:
            self.read_deadline = reactor.callLater(seconds, self.too_slow)

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self.body_limit:
            # No "100 Continue" for a body that is refused before it is sent.
            self.requestHeaders.removeHeader(b"expect")
            self.refuse_oversized()
            return
        self.sending_body = True
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return
        self.body_received += len(data)
        if self.body_received > self.body_limit:
            self.content.close()
            self.refuse_oversized()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        self.stop_deadline()
        self.sending_body = False
        if self.refused:
            # Answered already; the body has been read to its end, so the close is clean.
            self.close()
            return
        super().requestReceived(command, path, version)

    def connectionLost(self, reason: Any) -> None:
        self.stop_deadline()
        if self.sending_body and not self.refused:
            self.record_abandoned()
        super().connectionLost(reason)

    def record_abandoned(self) -> None:
        """The one row of a gateway request whose client left before its body was in."""
        self.sending_body = False
        path = getattr(self.channel, "_path", b"").decode("latin-1").partition("?")[0]
        if path.startswith(GATEWAY_PREFIXES):
            method = getattr(self.channel, "_command", b"").decode("latin-1")
            record.record_abandoned(self.family(), path, method)

    def refuse_oversized(self) -> None:
        limit = self.body_limit
        error = GatewayError(413, f"request body is larger than {limit} bytes", "request_too_large")
        self.refuse(error)
        self.content = Discard()
        self.stop_deadline()
        self.read_deadline = reactor.callLater(LINGER_SECONDS, self.close)

    def too_slow(self) -> None:
        self.read_deadline = None
        if self.refused:
            self.close()
            return
        seconds = settings.HEADROOM_CLIENT_READ_TIMEOUT
        self.refuse(
            GatewayError(
                408, f"the request took longer than {seconds:g}s to send", "request_timeout"
            )
        )
        self.close()

    def refuse(self, error: GatewayError) -> None:
        """Write the answer straight to the connection: Twisted's own response machinery waits
        for a request that was read to its end."""
        self.refused = True
        self.channel.persistent = False
        body = error_response(self.family(), error).content
        reason = HTTPStatus(error.status).phrase
        head = (
            f"HTTP/1.1 {error.status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.channel.transport.write(head.encode("ascii") + body)

    def family(self) -> str:
        path = getattr(self.channel, "_path", b"").decode("latin-1")
        path, _, query = path.partition("?")
        if path.startswith("/v1beta/") or (path.startswith("/v1/models/") and ":" in path):
            return Family.GEMINI
        if path.startswith("/v1/messages"):
            return Family.ANTHROPIC
        headers = {
            name.decode("latin-1").lower(): values[0].decode("latin-1")
            for name, values in self.requestHeaders.getAllRawHeaders()
        }
        return wire.family_from_headers(headers, query)

    def close(self) -> None:
        self.stop_deadline()
        transport = self.channel.transport
        transport.loseConnection()
        # A client that never reads would keep a graceful close waiting for ever.
        reactor.callLater(CLOSE_SECONDS, abort, transport)

    def stop_deadline(self) -> None:
        if self.read_deadline is not None and self.read_deadline.active():
            self.read_deadline.cancel()
        self.read_deadline = None


def abort(transport: Any) -> None:
    if getattr(transport, "connected", False) and hasattr(transport, "abortConnection"):
        transport.abortConnection()


class LimitedHTTPFactory(HTTPFactory):  # type: ignore[misc]
    """Daphne's factory with `LimitedRequest` and the idle timeout from the settings."""

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.timeOut = settings.HEADROOM_CLIENT_IDLE_TIMEOUT or None

    def log(self, request: Any) -> None:
        """No access log: Twisted would format a line per request, query string (a Gemini
        `?key=`) included, for a log Daphne discards. The gateway logs each request itself."""

    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        if protocol is not None:
            protocol.requestFactory = LimitedRequest
        return protocol


def install() -> None:
    """Make the next `daphne.server.Server.run()` build its HTTP side from the classes above."""
    daphne.server.HTTPFactory = LimitedHTTPFactory
