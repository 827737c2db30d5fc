"""Reading one route's model list from its upstream, in the upstream's own format, briefly cached.

Used by the gateway's own `GET /v1/models` answer (proxy.modellist). A failing upstream yields an
empty list, never an error: one dead provider must not hide every other route's models.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from proxy import upstream, wire
from routing.baseurl import BaseURL

# One route's list as one caller sees it: route id, base URL, protocol, credential digest.
CacheKey = tuple[int | None, str, str, str]

logger = logging.getLogger(__name__)

# A route's list is reused this long (per worker), and a failure is remembered for less.
CACHE_SECONDS = 60.0
FAILURE_CACHE_SECONDS = 10.0
CACHE_MAX_ENTRIES = 512
# One upstream list request may take this long; the whole list is bounded in proxy.modellist.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
MAX_BODY_BYTES = 8 * 1024 * 1024
# Paginated upstreams (anthropic, gemini) are read for at most this many pages.
MAX_PAGES = 5
ANTHROPIC_VERSION = "2023-06-01"


@dataclass(frozen=True)
class Listed:
    """One model an upstream offers, as the upstream named it."""

    id: str
    display_name: str = ""
    created: int | None = None  # unix seconds
    owned_by: str = ""
    # A Gemini upstream's own entry (token limits, methods), kept for Gemini-shaped answers.
    gemini: dict[str, Any] | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class Source:
    """Where one route's list comes from: its base URL, its protocol and the credential to send."""

    route_id: int | None
    base: BaseURL
    protocol: str
    headers: tuple[tuple[str, str], ...]  # the credential, as the upstream expects it
    query_key: str = ""  # a Gemini `?key=` credential

    @property
    def cache_key(self) -> CacheKey:
        # Lists may differ per credential (a provider shows each account its own models), so
        # the credential is part of the key, hashed so the cache never holds a secret.
        secret = repr((self.headers, self.query_key)).encode()
        digest = hashlib.sha256(secret).hexdigest()
        return (self.route_id, self.base.url, self.protocol, digest)


_cache: dict[CacheKey, tuple[float, tuple[Listed, ...]]] = {}


def forget() -> None:
    """Drop every cached list (tests, and an admin who wants a fresh answer at once)."""
    _cache.clear()


async def models(source: Source) -> tuple[Listed, ...]:
    """The source's models, from the cache when fresh; an empty tuple when the upstream fails."""
    key = source.cache_key
    cached = _cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    try:
        listed = await fetch(source)
        lifetime = CACHE_SECONDS
    except Exception as exc:
        # Whatever went wrong with one upstream (transport, status, body), the list goes on
        # without it. The host may be internal and the message may quote it: only the route and
        # the kind of failure are logged.
        logger.warning("model list of route %s failed: %s", source.route_id, type(exc).__name__)
        listed, lifetime = (), FAILURE_CACHE_SECONDS
    remember(key, listed, lifetime)
    return listed


def remember(key: CacheKey, listed: tuple[Listed, ...], lifetime: float) -> None:
    now = time.monotonic()
    if len(_cache) >= CACHE_MAX_ENTRIES:
        for stale in [k for k, (expires, _) in _cache.items() if expires <= now]:
            del _cache[stale]
    while len(_cache) >= CACHE_MAX_ENTRIES:
        del _cache[next(iter(_cache))]
    _cache[key] = (now + lifetime, listed)


async def fetch(source: Source) -> tuple[Listed, ...]:
    """Every page of the upstream's list (at most MAX_PAGES); raises on any failure."""
    listed: list[Listed] = []
    cursor = ""
    for _ in range(MAX_PAGES):
        data = await get_json(source, page_query(source.protocol, cursor))
        page, cursor = PARSERS[source.protocol](data)
        listed.extend(page)
        if not cursor:
            break
    return tuple(listed)


def page_query(protocol: str, cursor: str) -> str:
    if protocol == "anthropic":
        return "limit=1000" + (f"&after_id={cursor}" if cursor else "")
    if protocol == "gemini":
        return "pageSize=1000" + (f"&pageToken={cursor}" if cursor else "")
    return ""


async def get_json(source: Source, query: str) -> Any:
    path = "/v1beta/models" if source.protocol == "gemini" else "/v1/models"
    if source.query_key:
        query = "&".join(part for part in (query, f"key={source.query_key}") if part)
    url = source.base.url + path + (f"?{query}" if query else "")
    headers = [*source.headers, ("accept", "application/json"), ("accept-encoding", "identity")]
    if source.protocol == "anthropic":
        headers.append(("anthropic-version", ANTHROPIC_VERSION))
    limits = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    request = upstream.build_request("GET", url, headers, b"", limits)
    # The shared transport never follows a redirect: a 3xx is a failure like any other status.
    reply = await upstream.send(request)
    try:
        if reply.status_code != 200:
            raise ValueError(f"status {reply.status_code}")
        body = await read_bounded(reply)
    finally:
        await reply.aclose()
    return json.loads(body)


async def read_bounded(reply: httpx.Response) -> bytes:
    chunks, size = [], 0
    # The body stream itself, read once: a list is small, and a body already read is no error.
    async for chunk in reply.stream:  # type: ignore[union-attr]
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ValueError("model list too large")
        chunks.append(chunk)
    return b"".join(chunks)


# Each parser takes one page and returns its models and the cursor of the next page ("" if none).


def parse_openai(data: Any) -> tuple[list[Listed], str]:
    listed = []
    for item in _items(data, "data"):
        created = item.get("created")
        listed.append(
            Listed(
                id=item["id"],
                created=created if isinstance(created, int) else None,
                owned_by=_text(item.get("owned_by")),
            )
        )
    return listed, ""


def parse_anthropic(data: Any) -> tuple[list[Listed], str]:
    listed = [
        Listed(
            id=item["id"],
            display_name=_text(item.get("display_name")),
            created=_timestamp(item.get("created_at")),
        )
        for item in _items(data, "data")
    ]
    more = isinstance(data, dict) and data.get("has_more") is True and listed
    return listed, listed[-1].id if more else ""


def parse_gemini(data: Any) -> tuple[list[Listed], str]:
    listed = []
    for item in _items(data, "models", key="name"):
        name = item["name"].removeprefix("models/")
        listed.append(Listed(id=name, display_name=_text(item.get("displayName")), gemini=item))
    token = data.get("nextPageToken") if isinstance(data, dict) else None
    return listed, token if isinstance(token, str) else ""


PARSERS = {"openai": parse_openai, "anthropic": parse_anthropic, "gemini": parse_gemini}


def _items(data: Any, member: str, key: str = "id") -> list[dict[str, Any]]:
    """The page's entries that name a model; anything else in the list is skipped."""
    if not isinstance(data, dict) or not isinstance(data.get(member), list):
        raise ValueError(f"no {member} list")
    return [
        item
        for item in data[member]
        if isinstance(item, dict) and isinstance(item.get(key), str) and item[key].strip()
    ]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _timestamp(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def credential_headers(protocol: str, key: str) -> tuple[tuple[str, str], ...]:
    """A key injected from the environment, presented as the route's protocol expects."""
    return (wire.get(protocol).credential_header(key),)
