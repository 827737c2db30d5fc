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

from proxy import (
    admit,
    attempts,
    bodywork,
    credentials,
    forward,
    inbound,
    inflight,
    modellist,
    record,
    respond,
    responsecache,
)
from proxy.errors import GatewayError, error_response
from proxy.exchange import Exchange
from proxy.inbound import Inbound, Surface
from routing.families import default_targets

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
        failure = GatewayError(500, "the gateway failed to handle the request", "internal_error")
        exchange.fail(failure)
        return respond.with_gateway_headers(error_response(received.family, failure), exchange)
    finally:
        # A streamed answer's relay hands the exchange over when the body is done.
        if not handed_off:
            record.record(exchange)


async def proxy(
    request: HttpRequest, received: Inbound, surface: Surface, exchange: Exchange
) -> HttpResponse:
    admit.check_host(request)
    # A large body's depth is checked where it is parsed, off the event loop.
    large = bodywork.offloaded(received.body)
    admit.check_request(received, depth=not large)
    await bodywork.parse_model(received, surface, large)
    admit.check_model(received)
    exchange.model, exchange.stream = received.model, received.stream
    key = await admit.identify(received, exchange)
    if modellist.answers(received, exchange):
        await admit.enforce_limits(key, exchange)
        listed = await modellist.respond(received, exchange, default_targets())
        return respond.with_gateway_headers(listed, exchange)
    resolution = await forward.resolve_request(received)
    forward.describe_route(exchange, resolution)
    admit.check_lending(received, resolution)
    # A request refused for a missing provider key does not count against the key's rate.
    credentials.require(received.headers, received.query, resolution.auth, resolution.protocol)
    await admit.enforce_limits(key, exchange)
    await bodywork.apply_savings(received, resolution.route, exchange, large)
    outgoing = forward.build_upstream_request(received, resolution)
    # The cache answers only after every admission check, the egress pin included, and only
    # the request it stored: where and as whom `outgoing` goes is part of its key.
    pinned = await forward.check_egress(outgoing, resolution)
    inflight.enter(exchange, key.max_in_flight if key is not None else None)
    slot = await responsecache.open_slot(received, resolution.route, exchange, outgoing)
    if slot is not None and slot.entry is not None:
        return respond.replay(slot.entry, exchange)
    reply = await attempts.send(received, surface, resolution, exchange, prepared=pinned)
    return await respond.respond(reply, received, exchange, slot, record.record)
