"""The response side of one request: one builder for every answer the gateway relays, live from
the upstream or replayed from the response cache, and the gateway's own headers (SPEC §5)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Callable, Sequence

import httpx
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse

from proxy import savings, upstream, wire
from proxy.errors import ResponseTooLarge, from_httpx
from proxy.exchange import Exchange
from proxy.inbound import Inbound
from proxy.relay import Relay
from proxy.responsecache import Entry, Slot

# Bodies up to this size, with a declared length, are read whole and answered with a
# Content-Length; anything else (SSE, chunked, large downloads) is relayed as it arrives.
BUFFER_LIMIT = 1024 * 1024
# Under `serve --workers N`, each worker's number (1 to N), set once at its start and sent as
# x-headroom-worker: an operator can tell from a response which worker answered it, and match it
# with that worker's log. Empty in a single process, which sends no such header. A number, not
# the process id: it tells a client nothing about the host.
worker_number = ""


def build(
    status: int,
    reason: str,
    headers: Sequence[tuple[str, str]],
    body: bytes | AsyncIterable[bytes],
    *,
    streamed: bool,
    content_length: str | None = None,
) -> HttpResponse:
    """An answer with the upstream's status, reason and (filtered, merged) headers."""
    response: HttpResponse
    if isinstance(body, bytes):
        response = HttpResponse(body, status=status, reason=reason)
        response["content-length"] = content_length or str(len(body))
    else:
        response = StreamingHttpResponse(body, status=status, reason=reason)  # type: ignore[assignment]
    if not any(name == "content-type" for name, _ in headers):
        del response["content-type"]
    for name, value in headers:
        response[name] = value
    if streamed:
        response["cache-control"] = "no-cache"
        response["x-accel-buffering"] = "no"
    return response


async def respond(
    reply: httpx.Response,
    inbound: Inbound,
    exchange: Exchange,
    slot: Slot | None,
    on_finish: Callable[[Exchange], None],
) -> HttpResponse:
    """The upstream's answer: read whole when small and sized, else relayed as it arrives (the
    relay hands the exchange to `on_finish` when the stream ends)."""
    exchange.status = reply.status_code
    await refuse_too_large(reply)
    headers = upstream.response_headers(reply)
    if not should_buffer(reply):
        recorder = slot.recorder(reply) if slot is not None else None
        relay = Relay(
            reply, exchange, inbound.family, inbound.hide_usage_chunk, recorder, on_finish
        )
        response = build(reply.status_code, reply.reason_phrase, headers, relay, streamed=True)
        return with_gateway_headers(response, exchange)
    try:
        body = await reply.aread()
    except httpx.HTTPError as exc:
        raise from_httpx(exc) from None
    finally:
        await reply.aclose()
    exchange.upstream_done = exchange.first_byte = time.perf_counter()
    if reply.is_success:
        exchange.usage = wire.get(inbound.family).usage_from_json(body)
    if slot is not None:
        await slot.store(reply, body, exchange.usage, streamed=False)
    # A HEAD answer has no body but tells the length a GET would have: relay that.
    head_length = reply.headers.get("content-length") if inbound.method == "HEAD" else None
    response = build(
        reply.status_code,
        reply.reason_phrase,
        headers,
        body,
        streamed=False,
        content_length=head_length,
    )
    return with_gateway_headers(response, exchange)


def replay(entry: Entry, exchange: Exchange) -> HttpResponse:
    """A stored answer; nothing is sent upstream and nothing is billed."""
    exchange.status, exchange.usage, exchange.cache_hit = entry.status, entry.usage, True
    exchange.mark_first_byte()
    response = build(entry.status, entry.reason, entry.headers, entry.body, streamed=entry.streamed)
    return with_gateway_headers(response, exchange)


async def refuse_too_large(reply: httpx.Response) -> None:
    """Refuse, before any byte is sent, a body declared larger than HEADROOM_MAX_RESPONSE_BYTES
    (the relay stops an undeclared one when it passes the limit)."""
    limit = settings.HEADROOM_MAX_RESPONSE_BYTES
    length = reply.headers.get("content-length", "")
    if limit and length.isdigit() and int(length) > limit:
        await reply.aclose()
        raise from_httpx(ResponseTooLarge(length))


def should_buffer(reply: httpx.Response) -> bool:
    length = reply.headers.get("content-length", "")
    content_type = reply.headers.get("content-type", "")
    return (
        length.isdigit()
        and int(length) <= BUFFER_LIMIT
        and not content_type.startswith("text/event-stream")
    )


def with_gateway_headers(response: HttpResponse, exchange: Exchange) -> HttpResponse:
    response["x-headroom-request-id"] = exchange.request_id
    # The route that answered: a fallback's prefix when the matched route failed.
    label = exchange.answered_route or exchange.route_label
    if label:
        response["x-headroom-route"] = label
    for name, value in savings.headers(exchange).items():
        response[name] = value
    if exchange.cache_status:
        response["x-headroom-cache"] = exchange.cache_status
    if worker_number:
        response["x-headroom-worker"] = worker_number
    return response
