"""Hands a finished exchange to the request log and the metrics: the one place the hot path
turns what a request did into a row (no bodies, no headers, no credentials).
"""

from __future__ import annotations

import logging

from proxy import inflight, metrics, savings
from proxy.exchange import Exchange
from requestlog import writer
from requestlog.storable import text

logger = logging.getLogger(__name__)

# Status recorded when the client left before any status was known (nginx's convention).
CLIENT_CLOSED = 499


def row_values(exchange: Exchange) -> dict[str, object]:
    """A finished exchange's RequestLog fields: no bodies, no headers, no credentials.

    A plain dict is a fraction of the cost of a model instance on the request's path; the
    instance, and its cost (which may need a query), are made on the writer thread. Every text
    is made storable here (`storable.text`), so one caller's strange model name or path cannot
    make the database refuse a batch that holds other callers' rows.
    """
    usage = exchange.usage
    status = final_status(exchange)
    # Served from the gateway's cache: nothing was billed, whatever the replayed usage says.
    billed = None if exchange.cache_hit else usage
    return dict(
        created=exchange.created,
        request_id=text(exchange.request_id, 64),
        family=text(exchange.family, 16),
        endpoint=text(exchange.endpoint, 500),
        method=text(exchange.method, 16),
        model=text(exchange.model, 200),
        model_forwarded=text(exchange.model_forwarded, 200),
        route_id=exchange.route_id,
        route_label=text(exchange.route_label, 200),
        upstream_host=text(exchange.upstream_host, 255),
        override=exchange.override,
        attempts=exchange.attempts,
        answered_route=text(exchange.answered_route, 200),
        team=text(exchange.team, 100),
        gateway_key_id=exchange.gateway_key_id,
        status=status,
        error_type=text(exchange.error_type, 64),
        stream=exchange.stream,
        disconnected=exchange.disconnected,
        latency_ms=round(exchange.latency_ms, 3),
        ttfb_ms=None if exchange.ttfb_ms is None else round(exchange.ttfb_ms, 3),
        overhead_ms=round(exchange.overhead_ms, 3),
        input_tokens=billed.input_tokens if billed else 0,
        output_tokens=billed.output_tokens if billed else 0,
        cache_read_tokens=billed.cache_read_tokens if billed else 0,
        cache_write_tokens=billed.cache_write_tokens if billed else 0,
        usage_reported=usage is not None,
        cache_hit=exchange.cache_hit,
        **savings.row_fields(exchange, status),
    )


def final_status(exchange: Exchange) -> int:
    """The status the client got: 499 if it left before any byte of the answer was handed to it
    (a status the upstream sent but the client never saw included), 500 for a crash."""
    if exchange.disconnected and exchange.first_byte is None:
        return CLIENT_CLOSED
    return exchange.status or 500


def record(exchange: Exchange) -> None:
    """Finish the exchange, count it and queue its row, once per request. Never raises."""
    if not exchange.finish():
        return
    inflight.leave(exchange)
    try:
        metrics.observe(exchange, final_status(exchange))
    except Exception:
        logger.exception("metrics: could not count request %s", exchange.request_id)
    try:
        values = row_values(exchange)
    except Exception:
        logger.exception("request log: could not build the row of request %s", exchange.request_id)
        writer.drop(1, "error")
        return
    writer.submit(values, exchange.usage)


def record_abandoned(family: str, path: str, method: str) -> None:
    """A request whose client left while still sending its body: it never reached a view, but
    it gets its one row, a 499, like any other request the client gave up on."""
    exchange = Exchange(family=family, endpoint=path, method=method, disconnected=True)
    record(exchange)
