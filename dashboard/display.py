"""How the dashboard's figures read: tiles, table cells and recent-request rows as strings.

The page and its live JSON both use these, so a tile updated in place reads exactly as the
server-rendered one did.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dashboard.stats import NOTES, Figures, Percentile, Recent

UNPRICED = "unpriced"
NONE = "—"


def count(value: int) -> str:
    return f"{value:,}"


def share(value: float | None) -> str:
    return NONE if value is None else f"{value * 100:.1f}%"


def priced_usd(value: Decimal | None, f: Figures) -> str:
    """A priced sum; with no priced row but estimated ones it reads $0.00 (the estimate follows
    beside it), and "unpriced" only when no row of the set has a price at all."""
    return usd(Decimal(0) if value is None and f.estimated_requests else value)


def usd(value: Decimal | None) -> str:
    """Dollars to the cent; amounts under a cent keep four decimals so they do not read $0."""
    if value is None:
        return UNPRICED
    if value == 0 or abs(value) >= Decimal("0.01"):
        return f"${value:,.2f}"
    return f"${value:.4f}"


def ms(value: float | None) -> str:
    return NONE if value is None else f"{value:,.1f} ms"


def approx_ms(value: Percentile) -> str:
    if value.value is None:
        return NONE
    if value.high is None:
        return f"≥ {value.low:,.0f} ms"
    return f"≈ {value.value:,.1f} ms"


def bin_text(value: Percentile) -> str:
    if value.value is None:
        return "no requests"
    high = "∞" if value.high is None else f"{value.high:g}"
    return f"in the [{value.low:g}, {high}) ms bin"


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
            "Input tokens (billed)",
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
            "USD saved",
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
            "Gateway overhead p50",
            approx_ms(f.overhead_p50),
            bin_text(f.overhead_p50),
            NOTES["overhead"],
        ),
        Tile(
            "overhead_p95",
            "Gateway overhead p95",
            approx_ms(f.overhead_p95),
            bin_text(f.overhead_p95),
            NOTES["overhead"],
        ),
    ]


def spend_detail(f: Figures) -> str:
    parts = []
    if f.estimated_requests:
        parts.append(f"+ {usd(f.spend_estimated)} estimated ({count(f.estimated_requests)} req.)")
    if f.unpriced_requests:
        parts.append(f"{count(f.unpriced_requests)} req. unpriced")
    return " · ".join(parts)


# Breakdown tables: (sort key, heading) per column, and the cells of one line.
COLUMNS = (
    ("requests", "Requests"),
    ("error_rate", "Errors"),
    ("input_tokens", "Input tok."),
    ("output_tokens", "Output tok."),
    ("tokens_saved", "Saved tok."),
    ("spend", "Spend"),
    ("saved_usd", "USD saved"),
    ("cache_hit_rate", "Cache hits"),
    ("overhead_p95", "Overhead p95"),
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
    "TTFB",
    "Input tok.",
    "Output tok.",
    "Saved tok.",
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
        ms(row.latency_ms),
        ms(row.ttfb_ms),
        count(row.input_tokens),
        count(row.output_tokens),
        count(row.tokens_saved),
        cost,
    ]
