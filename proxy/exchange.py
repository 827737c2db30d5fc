"""What one proxied request did: timings, route, status and usage, finished exactly once.

The finished exchange is what `proxy.record` hands to the request log; the gateway's access log
line comes from here (Daphne's own access log is off because it prints query strings).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from proxy.errors import GatewayError
from requestlog.usage import Usage

logger = logging.getLogger("headroom.access")


class Slot:
    """What an exchange holds while in flight (hashable by identity, unlike the exchange)."""

    __slots__ = ("key_id", "host", "__weakref__")

    def __init__(self, key_id: int | None, host: str) -> None:
        self.key_id, self.host = key_id, host


@dataclass
class Exchange:
    family: str
    endpoint: str
    method: str
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: datetime = field(default_factory=timezone.now)
    started: float = field(default_factory=time.perf_counter)
    model: str = ""
    model_forwarded: str = ""
    route_id: int | None = None
    route_label: str = ""
    upstream_host: str = ""
    override: bool = False
    # Upstream requests made, retries and fallbacks included, and the route that answered.
    attempts: int = 0
    answered_route: str = ""
    # The answering route's limit on the silence between stream chunks (seconds).
    idle_timeout: float | None = None
    stream: bool = False
    status: int = 0
    error_type: str = ""
    disconnected: bool = False
    upstream_started: float | None = None
    upstream_done: float | None = None  # a buffered body fully read; streams leave it unset
    first_byte: float | None = None
    ended: float | None = None
    # Billed usage read from the response; None when the upstream reported none.
    usage: Usage | None = None
    # Estimated input tokens before and after the savings engine; None when it did not run.
    tokens_before: int | None = None
    tokens_after: int | None = None
    # The estimate of the body forwarded, engine or not (proxy.savings), and why the engine
    # changed the body or left it alone.
    estimated_input: int | None = None
    savings_note: str = ""
    cache_hit: bool = False
    # The in-flight slots this request holds (proxy.inflight), given back when it finishes.
    in_flight: Slot | None = None
    cache_status: str = ""  # x-headroom-cache: hit or miss on routes with a cache_ttl
    team: str = ""
    gateway_key_id: int | None = None
    finished: bool = False

    def fail(self, error: GatewayError) -> None:
        self.status = error.status
        self.error_type = error.code

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.perf_counter()

    @property
    def latency_ms(self) -> float:
        return _ms(self.started, self.ended)

    @property
    def ttfb_ms(self) -> float | None:
        return None if self.first_byte is None else _ms(self.started, self.first_byte)

    @property
    def overhead_ms(self) -> float:
        """Time spent in the gateway before the upstream was asked and after it answered."""
        if self.upstream_started is None:
            return self.latency_ms
        after = 0.0 if self.upstream_done is None else _ms(self.upstream_done, self.ended)
        return _ms(self.started, self.upstream_started) + after

    def finish(self) -> bool:
        """Mark the exchange ended and write its access-log line; True the first time only, so
        every request yields one record."""
        if self.finished:
            return False
        self.finished = True
        self.ended = time.perf_counter()
        logger.info(
            "%s %s %s family=%s model=%s route=%s status=%s stream=%s disconnected=%s ms=%.1f",
            self.request_id,
            self.method,
            self.endpoint,
            self.family,
            self.model or "-",
            self.route_label or "-",
            self.status,
            self.stream,
            self.disconnected,
            self.latency_ms,
        )
        return True


def _ms(start: float, end: float | None) -> float:
    return ((end or time.perf_counter()) - start) * 1000.0
