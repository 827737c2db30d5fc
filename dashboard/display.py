"""How the dashboard's figures read: tiles, table cells and recent-request rows as strings.

The page and its live JSON both use these, so a tile updated in place reads exactly as the
server-rendered one did.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dashboard.stats import NOTES, Figures, Percentile, Recent
from requestlog.pricing import usd

RANGE_LABELS = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
UNPRICED = usd(None)
NONE = "—"
# Shown wherever "unpriced" may appear, so the word never stands unexplained.
UNPRICED_NOTE = (
    "“unpriced”: the model has no entry in the price list, so the gateway cannot tell what its "
    "requests cost; they are counted, never added as $0. Add a price to include them."
)


def count(value: int) -> str:
    return f"{value:,}"


def share(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.1f}%"


def priced_usd(value: Decimal | None, f: Figures) -> str:
    """A priced sum; with no priced row but estimated ones it reads $0.00 (the estimate follows
    beside it), as it does with no rows at all, and "unpriced" only when the set has rows and
    none of them has a price."""
    nothing_unpriced = f.estimated_requests or not f.unpriced_requests
    return usd(Decimal(0) if value is None and nothing_unpriced else value)


def duration(value: float | None) -> str:
    """Milliseconds below a second, seconds above it: LLM requests often take many seconds."""
    if value is None:
        return NONE
    if value < 1000:
        return f"{value:,.0f} ms"
    return f"{value / 1000:,.1f} s"


def approx_ms(value: Percentile) -> str:
    if value.value is None:
        return NONE
    if value.high is None:
        return f"≥ {value.low:,.0f} ms"
    return f"≈ {value.value:,.1f} ms"


def bin_text(value: Percentile) -> str:
    if value.value is None:
        return "no requests"
    if value.high is None:
        return f"{value.low:,g} ms or more (the top bin)"
    return f"between {value.low:,g} and {value.high:,g} ms"


@dataclass(frozen=True)
class Tile:
    id: str
    label: str
    value: str
    detail: str
    note: str


def tiles(f: Figures) -> list[Tile]:
    return [
        Tile("requests", "Requests", count(f.requests), "", NOTES["requests"]),
        Tile(
            "error_rate",
            "Error rate",
            share(f.error_rate),
            f"{count(f.errors)} with status ≥ 400",
            NOTES["error_rate"],
        ),
        Tile(
            "input_tokens",
            "Input tokens",
            count(f.input_tokens),
            f"{count(f.uncached_input_tokens)} uncached · {count(f.cache_read_tokens)} cache "
            f"read · {count(f.cache_write_tokens)} cache write",
            NOTES["input_tokens"],
        ),
        Tile("output_tokens", "Output tokens", count(f.output_tokens), "", NOTES["output_tokens"]),
        Tile("spend", "Spend", priced_usd(f.spend, f), spend_detail(f), NOTES["spend"]),
        Tile(
            "tokens_saved",
            "Tokens saved",
            count(f.tokens_saved),
            f"{share(f.saved_share)} of would-be input tokens",
            NOTES["tokens_saved"],
        ),
        Tile(
            "saved_usd",
            "Money saved",
            priced_usd(f.saved_usd, f),
            f"+ {usd(f.saved_usd_estimated)} estimated" if f.estimated_requests else "",
            NOTES["saved_usd"],
        ),
        Tile(
            "cache_hit_rate",
            "Cache hit rate",
            share(f.cache_hit_rate),
            f"{count(f.cache_hits)} answered from the cache",
            NOTES["cache_hit_rate"],
        ),
        Tile(
            "overhead_p50",
            "Gateway overhead, median",
            approx_ms(f.overhead_p50),
            bin_text(f.overhead_p50),
            NOTES["overhead"],
        ),
        Tile(
            "overhead_p95",
            "Gateway overhead, 95th pct.",
            approx_ms(f.overhead_p95),
            bin_text(f.overhead_p95),
            NOTES["overhead"],
        ),
    ]


def requests(number: int) -> str:
    return f"{count(number)} request" + ("" if number == 1 else "s")


def spend_detail(f: Figures) -> str:
    parts = []
    if f.estimated_requests:
        parts.append(f"+ {usd(f.spend_estimated)} estimated ({requests(f.estimated_requests)})")
    if f.unpriced_requests:
        parts.append(f"{requests(f.unpriced_requests)} unpriced")
    return " · ".join(parts)


# Breakdown tables: (sort key, heading) per column, and the cells of one line.
COLUMNS = (
    ("requests", "Requests"),
    ("error_rate", "Error rate"),
    ("input_tokens", "Input tokens"),
    ("output_tokens", "Output tokens"),
    ("tokens_saved", "Tokens saved"),
    ("spend", "Spend"),
    ("saved_usd", "Money saved"),
    ("cache_hit_rate", "Cache hit rate"),
    ("overhead_p95", "Overhead, 95th pct."),
)


def line_cells(f: Figures) -> list[str]:
    spend, saved = priced_usd(f.spend, f), priced_usd(f.saved_usd, f)
    if f.estimated_requests:
        spend += f" (+{usd(f.spend_estimated)} est.)"
        saved += f" (+{usd(f.saved_usd_estimated)} est.)"
    if f.unpriced_requests and (f.spend is not None or f.estimated_requests):
        spend += f" (+{count(f.unpriced_requests)} unpriced)"
    return [
        count(f.requests),
        share(f.error_rate),
        count(f.input_tokens),
        count(f.output_tokens),
        f"{count(f.tokens_saved)} ({share(f.saved_share)})",
        spend,
        saved,
        share(f.cache_hit_rate),
        approx_ms(f.overhead_p95),
    ]


RECENT_HEADINGS = (
    "Time (UTC)",
    "Status",
    "Family",
    "Model",
    "Route",
    "Team",
    "Latency",
    "Time to first byte",
    "Input tokens",
    "Output tokens",
    "Tokens saved",
    "Cost",
)


def recent_cells(row: Recent) -> list[str]:
    status = str(row.status)
    flags = [
        name
        for name, on in (
            ("stream", row.stream),
            ("cache", row.cache_hit),
            ("left", row.disconnected),
        )
        if on
    ]
    if row.error_type:
        flags.append(row.error_type)
    if flags:
        status += " · " + ", ".join(flags)
    cost = usd(row.cost_usd)
    if row.cost_source == "estimated":
        cost += " (est.)"
    return [
        row.created.strftime("%Y-%m-%d %H:%M:%S"),
        status,
        row.family,
        row.model or NONE,
        row.route or NONE,
        row.team or NONE,
        duration(row.latency_ms),
        duration(row.ttfb_ms),
        count(row.input_tokens),
        count(row.output_tokens),
        count(row.tokens_saved),
        cost,
    ]
