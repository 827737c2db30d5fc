"""Turning billed tokens into USD: the per-worker price table and the cost of one request.

Prices come from ModelPrice rows only (nothing is fetched at run time). Each worker keeps a copy
of the table (`routing.polled`), dropped when a row is saved or deleted here and re-read every
HEADROOM_ROUTES_POLL_SECONDS, so an edit made through another worker applies within that too.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from requestlog.models import CostSource, ModelPrice
from requestlog.usage import Usage
from routing.polled import PolledCopy

MILLION = Decimal(1_000_000)
# Ten decimal places, as stored in RequestLog.cost_usd and saved_usd.
USD_QUANTUM = Decimal("0.0000000001")
# Token-counting endpoints (anthropic, openai Responses, gemini) are free to call.
FREE_ENDPOINTS = ("/count_tokens", "/input_tokens", ":countTokens")


@dataclass(frozen=True)
class Rate:
    """USD per million tokens for every model whose name starts with `pattern`."""

    pattern: str  # lower-cased
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    @classmethod
    def from_row(cls, row: ModelPrice) -> Rate:
        return cls(
            pattern=row.pattern.lower(),
            input=row.input_per_mtok,
            output=row.output_per_mtok,
            cache_read=row.cache_read_rate,
            cache_write=row.cache_write_rate,
        )


@dataclass(frozen=True)
class Cost:
    cost_usd: Decimal | None
    saved_usd: Decimal | None
    source: str  # a CostSource value


UNPRICED = Cost(None, None, CostSource.UNPRICED)


@dataclass(frozen=True)
class PriceTable:
    rates: tuple[Rate, ...]  # longest pattern first

    @property
    def fingerprint(self) -> tuple[Rate, ...]:
        return self.rates


def load() -> PriceTable:
    """Read the price table (sync; one query)."""
    rows = [Rate.from_row(row) for row in ModelPrice.objects.all()]
    return PriceTable(tuple(sorted(rows, key=lambda rate: len(rate.pattern), reverse=True)))


_copy = PolledCopy("price table", load)
invalidate = _copy.invalidate


def rates() -> tuple[Rate, ...]:
    """The price table, longest pattern first (one query when invalidated, none otherwise)."""
    return _copy.current_sync().rates


@receiver([post_save, post_delete], sender=ModelPrice)
def _price_changed(**kwargs: object) -> None:
    invalidate()


def match(model: str, table: tuple[Rate, ...]) -> Rate | None:
    """The longest pattern that prefixes the model name, case-insensitively."""
    name = model.strip().lower()
    if not name:
        return None
    for rate in table:
        if name.startswith(rate.pattern):
            return rate
    return None


def find_rate(*models: str) -> Rate | None:
    """The first model name with a price: the forwarded name is what the upstream billed."""
    table = rates()
    for model in models:
        rate = match(model, table)
        if rate is not None:
            return rate
    return None


def usage_cost(usage: Usage, rate: Rate) -> Decimal:
    """Each kind of token at its own rate; input_tokens is uncached input only."""
    total = (
        usage.input_tokens * rate.input
        + usage.output_tokens * rate.output
        + usage.cache_read_tokens * rate.cache_read
        + usage.cache_write_tokens * rate.cache_write
    )
    return _usd(total)


def input_rate(usage: Usage | None, rate: Rate) -> Decimal:
    """USD per million input tokens at this request's own mix of uncached, cache-read and
    cache-write input; the uncached rate when nothing was billed."""
    if usage is None:
        return rate.input
    billed = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    if not billed:
        return rate.input
    mixed = (
        usage.input_tokens * rate.input
        + usage.cache_read_tokens * rate.cache_read
        + usage.cache_write_tokens * rate.cache_write
    )
    return mixed / billed


def saved_cost(
    tokens_before: int | None, tokens_after: int | None, rate: Rate, usage: Usage | None = None
) -> Decimal:
    """Tokens the savings engine removed, priced as the input they would have been.

    A removed token would have been billed like the request's input was: tool output sits in the
    cached prefix of a conversation as often as in its new turn, so the request's own mix of
    uncached, cache-read and cache-write input prices it.
    """
    if tokens_before is None or tokens_after is None:
        return _usd(Decimal(0))
    return _usd(max(tokens_before - tokens_after, 0) * input_rate(usage, rate))


def billable(status: int, endpoint: str) -> bool:
    """Whether the upstream bills a request that reported no usage: it answered 2xx on an
    endpoint that is not a free token count."""
    return 200 <= status < 300 and not endpoint.rstrip("/").endswith(FREE_ENDPOINTS)


def compute(
    rate: Rate | None,
    usage: Usage | None,
    *,
    tokens_before: int | None = None,
    tokens_after: int | None = None,
    cache_hit: bool = False,
    estimated_input: int | None = None,
    billed: bool = True,
) -> Cost:
    """Cost and saved cost of one request; a model without a price stays unpriced, never $0.

    Without billed usage, `estimated_input` (default: `tokens_after`) is priced as uncached input
    and the cost is marked estimated, but only when `billed` says the upstream charges for it.
    """
    if rate is None:
        return UNPRICED
    saved = saved_cost(tokens_before, tokens_after, rate, usage)
    if usage is not None:
        cost = usage_cost(usage, rate)
        if cache_hit:
            # Answered from the gateway's cache: the upstream billed nothing, and the whole
            # would-be cost is saved.
            return Cost(_usd(Decimal(0)), cost + saved, CostSource.PRICED)
        return Cost(cost, saved, CostSource.PRICED)
    estimate = tokens_after if estimated_input is None else estimated_input
    if estimate is not None and billed and not cache_hit:
        # No billed usage came back (an aborted stream), but the estimator counted the input.
        return Cost(usage_cost(Usage(input_tokens=estimate), rate), saved, CostSource.ESTIMATED)
    # Nothing was billed (a gateway-made error, an upstream error, a free endpoint), so nothing
    # was saved either.
    return Cost(_usd(Decimal(0)), _usd(Decimal(0)), CostSource.PRICED)


def _usd(per_million: Decimal) -> Decimal:
    return (Decimal(per_million) / MILLION).quantize(USD_QUANTUM)


def usd(value: Decimal | float | None) -> str:
    """How an amount reads wherever it is shown (dashboard, admin): dollars to the cent, $12.34,
    and <$0.01 for an amount that would otherwise read as $0.00 though something was spent;
    "unpriced" when the model had no price."""
    if value is None:
        return "unpriced"
    amount = Decimal(str(value)) if isinstance(value, float) else value
    if amount == 0 or abs(amount) >= Decimal("0.01"):
        sign = "-" if amount < 0 else ""
        return f"{sign}${abs(amount):,.2f}"
    return "<$0.01" if amount > 0 else ">-$0.01"
