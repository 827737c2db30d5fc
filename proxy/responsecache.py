"""The opt-in response cache (a route's cache_ttl): keys that keep callers apart, stored answers
bounded in size, kept byte for byte (`proxy.respond` replays them).

Entries live in Django's default cache: local memory in each worker, or Redis shared by all.
Only a complete 2xx answer is stored; a cache that fails is skipped, never an error.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

from proxy import savings, upstream
from proxy.credentials import bare_value
from proxy.exchange import Exchange
from proxy.inbound import Inbound
from proxy.wire import CREDENTIAL_HEADERS
from requestlog.usage import Usage
from routing.models import UpstreamRoute

logger = logging.getLogger(__name__)

HIT = "hit"
MISS = "miss"
# Part of every key: entries written by an older layout are never read back.
KEY_PREFIX = "headroom:response:v1:"
# Request headers that change what the upstream answers, so they are part of the key.
VARYING_HEADERS = ("anthropic-version", "anthropic-beta", "openai-beta")


@dataclass(frozen=True)
class Entry:
    """One stored answer, with the usage it was billed, so a hit can count what it saved."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    streamed: bool  # relayed as a stream: replayed with the stream headers
    usage: Usage | None

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(name) + len(value) for name, value in self.headers)


@dataclass
class Slot:
    """A cacheable request: where its answer is kept, for how long, and the entry found there."""

    key: str
    ttl: int
    entry: Entry | None = None

    async def store(
        self, reply: httpx.Response, body: bytes, usage: Usage | None, *, streamed: bool
    ) -> bool:
        """Keep a complete answer; anything but a 2xx is never stored."""
        if not reply.is_success:
            return False
        headers = tuple(upstream.response_headers(reply))
        entry = Entry(reply.status_code, reply.reason_phrase, headers, body, streamed, usage)
        return await save(self.key, entry, self.ttl)

    def recorder(self, reply: httpx.Response) -> Recorder | None:
        return Recorder(self, reply) if reply.is_success else None


class Recorder:
    """Collects a relayed body exactly as the client receives it, up to the entry limit; the
    relay calls `complete` only when the whole body went through."""

    def __init__(self, slot: Slot, reply: httpx.Response) -> None:
        self.slot = slot
        self.reply = reply
        self.limit = settings.HEADROOM_RESPONSE_CACHE_MAX_ENTRY_BYTES
        self.chunks: list[bytes] = []
        self.size = 0
        self.too_large = False

    def add(self, chunk: bytes) -> None:
        if self.too_large:
            return
        self.size += len(chunk)
        if self.size > self.limit:
            # Past the limit the answer will not be stored: stop holding its bytes at once.
            self.too_large, self.chunks = True, []
            return
        self.chunks.append(chunk)

    async def complete(self, usage: Usage | None) -> None:
        if not self.too_large:
            await self.slot.store(self.reply, b"".join(self.chunks), usage, streamed=True)


async def open_slot(
    inbound: Inbound,
    route: UpstreamRoute | None,
    exchange: Exchange,
    outgoing: httpx.Request | None = None,
) -> Slot | None:
    """The request's slot, with its entry if one is stored; None unless the route caches.

    Routes without a cache_ttl return at the first line: no hashing, no cache round trip.
    A bypassed request is answered by the upstream and not stored.
    """
    if route is None or route.cache_ttl <= 0:
        return None
    exchange.cache_status = MISS
    if inbound.method != "POST" or not inbound.model or savings.bypassed(inbound):
        return None
    slot = Slot(cache_key(inbound, route, exchange, outgoing), route.cache_ttl)
    slot.entry = await load(slot.key)
    if slot.entry is not None:
        exchange.cache_status = HIT
    return slot


def cache_key(
    inbound: Inbound,
    route: UpstreamRoute,
    exchange: Exchange,
    outgoing: httpx.Request | None = None,
) -> str:
    """SHA-256 over the route (and its last edit), the caller, where and as whom the request
    goes (`outgoing`: the resolved upstream or override target, and the credentials it carries,
    injected ones included), the path and query, the headers that change the answer, and the
    body exactly as it will be forwarded."""
    parts = [
        str(route.pk),
        route.updated.isoformat() if route.updated else "",
        exchange.route_label,
        identity(inbound, exchange),
        *destination(outgoing),
        inbound.method,
        inbound.path,
        inbound.query,
        # The gateway hides a usage chunk it asked for; a client that asked itself sees it.
        "usage-hidden" if inbound.hide_usage_chunk else "",
        *(inbound.headers.get(name, "") for name in VARYING_HEADERS),
    ]
    digest = hashlib.sha256()
    for part in [*(part.encode("utf-8", "surrogateescape") for part in parts), inbound.body]:
        # Length-prefixed, so no two different requests hash the same sequence of bytes.
        digest.update(f"{len(part)}:".encode())
        digest.update(part)
    return KEY_PREFIX + digest.hexdigest()


def identity(inbound: Inbound, exchange: Exchange) -> str:
    """Who asks: the gateway key, and a SHA-256 of every credential the client sent."""
    digest = hashlib.sha256()
    for name in CREDENTIAL_HEADERS:
        value = bare_value(name, inbound.headers.get(name, ""))
        digest.update(f"{name}:{len(value)}:{value}".encode("utf-8", "surrogateescape"))
    key_id = exchange.gateway_key_id
    return f"{'' if key_id is None else key_id}/{digest.hexdigest()}"


def destination(outgoing: httpx.Request | None) -> tuple[str, str]:
    """The URL the request goes to (before DNS pinning, so the name, not the address) and a
    SHA-256 of the credentials it carries: never the credentials themselves."""
    if outgoing is None:
        return "", ""
    digest = hashlib.sha256()
    for name in CREDENTIAL_HEADERS:
        value = outgoing.headers.get(name, "")
        digest.update(f"{name}:{len(value)}:{value}".encode("utf-8", "surrogateescape"))
    return str(outgoing.url), digest.hexdigest()


def local_memory() -> bool:
    backend: str = settings.CACHES["default"]["BACKEND"]
    return backend.endswith(".LocMemCache")


async def load(key: str) -> Entry | None:
    try:
        if local_memory():
            # A dictionary lookup under a lock: cheaper than the thread hop it would need.
            value = cache.get(key)
        else:
            # Never on the event loop: a Redis round trip must not stall other requests.
            value = await sync_to_async(cache.get, thread_sensitive=False)(key)
    except Exception as exc:
        logger.warning("response cache lookup failed (%s); asking the upstream", type(exc).__name__)
        return None
    return value if isinstance(value, Entry) else None


async def save(key: str, entry: Entry, ttl: int) -> bool:
    if entry.size > settings.HEADROOM_RESPONSE_CACHE_MAX_ENTRY_BYTES:
        return False
    try:
        await sync_to_async(_save, thread_sensitive=False)(key, entry, ttl)
    except Exception as exc:
        logger.warning("response cache store failed (%s); answer not kept", type(exc).__name__)
        return False
    return True


def _save(key: str, entry: Entry, ttl: int) -> None:
    cache.set(key, entry, ttl)
    if local_memory():
        for stale in ledger.admit(key, entry.size):
            cache.delete(stale)


class Ledger:
    """The answers this worker put in its local-memory cache, oldest first, with their sizes.

    Local memory counts entries but not bytes; this keeps stored answers under
    HEADROOM_RESPONSE_CACHE_MAX_BYTES and under half the cache's MAX_ENTRIES (the rest is left
    to rate counters), evicting the oldest answers first. Entries the cache dropped by itself
    are still counted until they age out here, so the real total is never above the figure.
    """

    def __init__(self) -> None:
        self.sizes: OrderedDict[str, int] = OrderedDict()
        self.total = 0
        self.lock = threading.Lock()

    def admit(self, key: str, size: int) -> list[str]:
        """Record a stored answer; returns the keys to delete to stay within both limits."""
        max_bytes, max_entries = settings.HEADROOM_RESPONSE_CACHE_MAX_BYTES, entry_limit()
        evicted = []
        with self.lock:
            self.total -= self.sizes.pop(key, 0)
            self.sizes[key] = size
            self.total += size
            while self.sizes and (self.total > max_bytes or len(self.sizes) > max_entries):
                stale, stale_size = self.sizes.popitem(last=False)
                self.total -= stale_size
                evicted.append(stale)
        return evicted


def entry_limit() -> int:
    options = settings.CACHES["default"].get("OPTIONS", {})
    return max(int(options.get("MAX_ENTRIES", 300)) // 2, 1)


ledger = Ledger()
