"""One proxied request, start to finish: parse → admit → resolve → forward → respond, and the
finished exchange handed to the request log.

Views hand a request and its surface to `handle`; every step is a plain function in its own
module (`inbound`, `admit`, `forward`, `respond`) so tests can drive each one.
"""

from __future__ import annotations

import asyncio
import logging
import traceback

from django.http import HttpRequest, HttpResponse

from proxy import admit, attempts, forward, inbound, record, respond, responsecache, savings
from proxy.errors import GatewayError, error_response
from proxy.exchange import Exchange
from proxy.inbound import Inbound, Surface

logger = logging.getLogger(__name__)


async def handle(request: HttpRequest, surface: Surface) -> HttpResponse:
    received = inbound.read_request(request, surface)
    exchange = Exchange(family=received.family, endpoint=request.path, method=request.method or "")
    handed_off = False
    try:
        response = await proxy(request, received, surface, exchange)
        handed_off = response.streaming
        return response
    except GatewayError as error:
        exchange.fail(error)
        return respond.with_gateway_headers(error_response(received.family, error), exchange)
    except asyncio.CancelledError:
        exchange.disconnected = True
        raise
    except Exception as exc:
        # A bug, not a client's mistake: a 500 in the caller's format and a row that says so.
        # The exception's message may quote request data, so only its type and frames are logged.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        logger.error("request %s failed: %s\n%s", exchange.request_id, type(exc).__name__, frames)
        error = GatewayError(500, "the gateway failed to handle the request", "internal_error")
        exchange.fail(error)
        return respond.with_gateway_headers(error_response(received.family, error), exchange)
    finally:
        # A streamed answer's relay hands the exchange over when the body is done.
        if not handed_off:
            record.record(exchange)


async def proxy(
    request: HttpRequest, received: Inbound, surface: Surface, exchange: Exchange
) -> HttpResponse:
    admit.check_host(request)
    admit.check_request(received)
    inbound.parse_model(received, surface)
    admit.check_model(received)
    exchange.model, exchange.stream = received.model, received.stream
    await admit.identify(received, exchange)
    resolution = await forward.resolve_request(received)
    forward.describe_route(exchange, resolution)
    savings.apply(received, resolution.route, exchange)
    slot = await responsecache.open_slot(received, resolution.route, exchange)
    if slot is not None and slot.entry is not None:
        return respond.replay(slot.entry, exchange)
    reply = await attempts.send(received, surface, resolution, exchange)
    return await respond.respond(reply, received, exchange, slot, record.record)
