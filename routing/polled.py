"""A worker's cached copy of admin-edited tables (routes, gateway keys), kept fresh without a query
per request: saves in this process drop the copy at once, and a background thread re-reads it every
HEADROOM_ROUTES_POLL_SECONDS so edits made by other workers or machines apply too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from django.conf import settings
from django.db import close_old_connections

from routing import database

logger = logging.getLogger(__name__)


class Table(Protocol):
    # Equal fingerprints mean nothing a request reads has changed. Read-only, so the tables
    # can be frozen dataclasses.
    @property
    def fingerprint(self) -> Hashable: ...


T = TypeVar("T", bound=Table)


class PolledCopy(Generic[T]):
    """`load` reads the tables (sync); `before_load` runs first on each poll (e.g. a write-back).
    `what` names the tables in the poller thread's name and in its log."""

    def __init__(
        self, what: str, load: Callable[[], T], before_load: Callable[[], object] | None = None
    ) -> None:
        self.what = what
        self.load = load
        self.before_load = before_load
        self.table: T | None = None
        self.poller: threading.Thread | None = None
        self._lock = threading.Lock()

    def current_sync(self) -> T:
        table = self.table
        if table is None:
            table = self.table = self.load()
        self._ensure_poller()
        return table

    async def current(self) -> T:
        """The table for this request: no query unless it was invalidated."""
        table = self.table
        if table is None:
            return await database.run(self.current_sync)
        self._ensure_poller()
        return table

    def invalidate(self) -> None:
        """Drop the copy; the next request reads the tables again."""
        self.table = None

    def _ensure_poller(self) -> None:
        poller = self.poller
        if settings.HEADROOM_ROUTES_POLL_SECONDS <= 0 or (poller is not None and poller.is_alive()):
            return
        with self._lock:
            if self.poller is None or not self.poller.is_alive():
                self.poller = threading.Thread(
                    target=self._poll, name=f"headroom {self.what}", daemon=True
                )
                self.poller.start()

    def _poll(self) -> None:
        """Re-read the tables until polling is switched off (interval read afresh each round)."""
        while (interval := settings.HEADROOM_ROUTES_POLL_SECONDS) > 0:
            time.sleep(interval)
            try:
                if self.before_load is not None:
                    self.before_load()
                fresh = self.load()
            except Exception:
                logger.exception("could not refresh %s; keeping the previous copy", self.what)
                continue
            finally:
                close_old_connections()
            table = self.table
            if table is None or fresh.fingerprint != table.fingerprint:
                self.table = fresh
