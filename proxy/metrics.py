"""Prometheus metrics of the gateway, fed once per finished exchange (the log writer keeps its
own, in `requestlog.metrics`).

Labels stay bounded: the route label is an admin-defined prefix (or default / override), the
family is one of three, and the status is the HTTP code; client-sent model names never become
labels, since any client could mint new series with them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from proxy import savings
from proxy.exchange import Exchange

# Seconds; LLM calls run from tens of milliseconds (errors, cache hits) to many minutes.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# Seconds the gateway itself adds; it should stay in the low milliseconds.
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)

REQUESTS = Counter(
    "headroom_requests", "Requests that reached a gateway view.", ["family", "route", "status"]
)
LATENCY = Histogram(
    "headroom_request_duration_seconds",
    "Time from request to the last byte sent.",
    ["family", "route"],
    buckets=LATENCY_BUCKETS,
)
TTFB = Histogram(
    "headroom_time_to_first_byte_seconds",
    "Time from request to the first response byte sent to the client.",
    ["family", "route"],
    buckets=LATENCY_BUCKETS,
)
OVERHEAD = Histogram(
    "headroom_gateway_overhead_seconds",
    "Time spent in the gateway rather than waiting on the upstream.",
    ["family"],
    buckets=OVERHEAD_BUCKETS,
)
TOKENS_BILLED = Counter(
    "headroom_tokens_billed",
    "Tokens as billed by the upstream, by kind (input, output, cache_read, cache_write).",
    ["family", "route", "kind"],
)
TOKENS_SAVED = Counter(
    "headroom_tokens_saved", "Input tokens removed by the savings engine.", ["family", "route"]
)
UPSTREAM_ERRORS = Counter(
    "headroom_upstream_errors",
    "Upstream failures: transport errors by gateway error code, and relayed 5xx as http_5xx.",
    ["family", "route", "kind"],
)
# Set when /metrics is scraped: a count that keeps growing under steady traffic is a leak.
LOOP_TASKS = Gauge("headroom_event_loop_tasks", "Tasks alive on this worker's event loop.")
TOKEN_KINDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def observe(exchange: Exchange, status: int) -> None:
    """Count one finished exchange; `status` is the one its log row records."""
    family = exchange.family
    route = exchange.route_label or "none"
    REQUESTS.labels(family, route, str(status)).inc()
    LATENCY.labels(family, route).observe(exchange.latency_ms / 1000)
    if exchange.ttfb_ms is not None:
        TTFB.labels(family, route).observe(exchange.ttfb_ms / 1000)
    OVERHEAD.labels(family).observe(exchange.overhead_ms / 1000)
    _count_tokens(exchange, family, route, status)
    kind = upstream_error_kind(exchange)
    if kind:
        UPSTREAM_ERRORS.labels(family, route, kind).inc()


def _count_tokens(exchange: Exchange, family: str, route: str, status: int) -> None:
    usage = exchange.usage
    if usage is not None and not exchange.cache_hit:
        for kind in TOKEN_KINDS:
            count = getattr(usage, kind)
            if count:
                TOKENS_BILLED.labels(family, route, kind.removesuffix("_tokens")).inc(count)
    # The same calibrated figures the request-log row keeps.
    counted = savings.saved_figures(exchange, status)
    if counted is not None and counted[0] > counted[1]:
        TOKENS_SAVED.labels(family, route).inc(counted[0] - counted[1])


def upstream_error_kind(exchange: Exchange) -> str:
    """The transport error code (upstream_timeout, …), http_5xx for a relayed 5xx, else ''."""
    if exchange.error_type.startswith("upstream_"):
        return exchange.error_type
    if exchange.status >= 500 and not exchange.error_type and exchange.upstream_host:
        return "http_5xx"
    return ""
