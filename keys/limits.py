"""Per-key limits: requests per minute and a monthly USD budget, both answered with 429.

Minute counters live in Django's cache, so every worker shares them once CACHE_URL names Redis;
while that cache cannot be reached, each worker counts on its own, as without Redis. Month-to-date
spend is summed from the request log and reused briefly by each worker.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import BaseCache, cache
from django.core.cache.backends.locmem import LocMemCache
from django.db.models import Sum
from django.utils import timezone

from keys.errors import Refused
from requestlog.models import RequestLog
from routing import database

if TYPE_CHECKING:
    from keys.table import KeyRecord

logger = logging.getLogger(__name__)

# A minute's counter outlives its minute a little, so a slow clock on one worker still finds it.
COUNTER_TTL_SECONDS = 120
# This worker's own counters, used while the shared cache is unreachable.
_own_counts = LocMemCache("headroom-rate-limits", {"TIMEOUT": COUNTER_TTL_SECONDS})
# At most one warning this often that the shared counts are unreachable.
UNREACHABLE_WARNING_SECONDS = 60.0
_warned_at: float | None = None


async def enforce(key: KeyRecord) -> None:
    """Refuse the request (429) when the key is over its budget or its rate; else count it."""
    if key.monthly_budget_usd is not None:
        await check_budget(key)
    if key.requests_per_minute:
        await check_rate(key)


# Rate: a fixed window per calendar minute, counted with one atomic increment per request.


async def check_rate(key: KeyRecord) -> None:
    # enforce() checks the rate only of keys that have one.
    assert key.requests_per_minute is not None
    now = time.time()
    minute = int(now // 60)
    # One thread hop that does not wait for the event loop's main thread: a Redis round trip
    # must not stall every other request, and Django's cache API is synchronous underneath.
    count = await sync_to_async(count_request, thread_sensitive=False)(key.id, minute)
    if count > key.requests_per_minute:
        retry_after = max(1, 60 - int(now % 60))
        raise Refused(
            429,
            f"this gateway key is limited to {key.requests_per_minute} requests per minute",
            "rate_limited",
            headers={"retry-after": str(retry_after)},
        )


def count_request(key_id: int, minute: int) -> int:
    """This request's number within the minute, across every worker sharing the cache; within
    this worker alone while the cache is unreachable (a Redis restart must not stop proxying)."""
    name = f"headroom:rpm:{key_id}:{minute}"
    try:
        return count_in(cache, name)
    except Exception as exc:  # the backend's own error type: redis, memcached, …
        warn_unreachable(exc)
        return count_in(_own_counts, name)


def count_in(counters: BaseCache, name: str) -> int:
    # add() creates the counter only if it is missing, so concurrent first requests both count.
    counters.add(name, 0, COUNTER_TTL_SECONDS)
    try:
        return counters.incr(name)
    except ValueError:
        # The counter expired between add() and incr(): this request starts the count again.
        counters.add(name, 1, COUNTER_TTL_SECONDS)
        return 1


def warn_unreachable(exc: Exception) -> None:
    global _warned_at
    now = time.monotonic()
    if _warned_at is None or now - _warned_at >= UNREACHABLE_WARNING_SECONDS:
        _warned_at = now
        logger.warning(
            "rate limits: the shared cache is unreachable (%s); counting on this worker alone",
            type(exc).__name__,
        )


# Budget: the month's cost from the request log, summed at most every few seconds per worker.


@dataclass(frozen=True)
class Spend:
    month: datetime
    usd: Decimal
    read_at: float


_spend: dict[int, Spend] = {}


async def check_budget(key: KeyRecord) -> None:
    # enforce() checks the budget only of keys that have one.
    assert key.monthly_budget_usd is not None
    spent = await month_to_date(key)
    if spent >= key.monthly_budget_usd:
        raise Refused(
            429,
            f"this gateway key has used its monthly budget of ${key.monthly_budget_usd}",
            "budget_exceeded",
            headers={"retry-after": str(seconds_to_next_month())},
        )


async def month_to_date(key: KeyRecord) -> Decimal:
    month = month_start(timezone.now())
    cached = _spend.get(key.id)
    fresh_for = settings.HEADROOM_BUDGET_CACHE_SECONDS
    if cached and cached.month == month and time.monotonic() - cached.read_at < fresh_for:
        return cached.usd
    usd = await database.run(spent_since, key.id, key.team, month)
    _spend[key.id] = Spend(month, usd, time.monotonic())
    return usd


def spent_since(key_id: int, team: str, since: datetime) -> Decimal:
    """Sum of cost_usd for the key since `since`; unpriced rows count as nothing.

    The team filter lets the (team, created) index narrow the rows before the key is matched.
    """
    rows = RequestLog.objects.filter(team=team, created__gte=since, gateway_key_id=key_id)
    return rows.aggregate(total=Sum("cost_usd"))["total"] or Decimal(0)


def month_start(now: datetime) -> datetime:
    """Midnight on the first of this calendar month, in the site's time zone (UTC)."""
    local = timezone.localtime(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def seconds_to_next_month() -> int:
    start = month_start(timezone.now())
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return max(1, int((following - timezone.now()).total_seconds()))


def forget_spend() -> None:
    """Drop this worker's cached spend (tests, and after the log is pruned by hand)."""
    _spend.clear()
