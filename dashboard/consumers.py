"""The dashboard's live feed: a staff-only WebSocket told whenever request-log rows are written.

The message carries only the newest row id; the page then asks /dashboard/live.json for the
rows after the ones it shows, so the filters are applied in one place (dashboard.stats).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer

from requestlog.models import RequestLog

logger = logging.getLogger(__name__)

GROUP = "dashboard"
# The event loop the consumers of this process run on, set when the first one connects; the
# log writer (a thread) hands its messages to that loop.
_loop: asyncio.AbstractEventLoop | None = None
_pending: set[concurrent.futures.Future[None]] = set()
# A shared layer that does not answer within PUBLISH_TIMEOUT seconds (Redis down) is left alone
# for PUBLISH_PAUSE seconds, so the log writer is never held up by it; pages poll meanwhile.
PUBLISH_TIMEOUT = 1.0
PUBLISH_PAUSE = 30.0
_paused_until = 0.0


# Channels ships no type information, so its classes are Any to mypy.
class DashboardConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        global _loop
        user = self.scope.get("user")
        if user is None or not (user.is_active and user.is_staff):
            await self.close(code=4403)
            return
        _loop = asyncio.get_running_loop()
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def rows_written(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "rows", "last_id": event["last_id"]})

    async def receive_json(self, content: object, **kwargs: object) -> None:
        """The page sends nothing; anything it does send is ignored."""


def on_rows_written(sender: object, rows: Iterable[RequestLog], **kwargs: object) -> None:
    """Receiver of `requestlog.signals.rows_written`."""
    publish_rows(rows)


def publish_rows(rows: Iterable[RequestLog]) -> None:
    """Tell the open dashboards that rows were written. Never raises, never waits for them.

    Called on the log writer's thread after each saved batch (`on_rows_written`).
    """
    ids = [row.pk for row in rows if row.pk is not None]
    if not ids:
        return
    try:
        _send({"type": "rows.written", "last_id": max(ids)})
    except Exception:
        logger.exception("dashboard: could not publish %d new rows", len(ids))


def _send(message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        # The in-memory layer's queues belong to the consumers' loop: hand the send over to it.
        # No loop yet means no dashboard has connected to this process, so nobody listens.
        loop = _loop
        if loop is None or loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(layer.group_send(GROUP, message), loop)
        _pending.add(future)
        future.add_done_callback(_pending.discard)
        return
    # A shared layer (Redis) reaches dashboards served by other processes too.
    global _paused_until
    if time.monotonic() < _paused_until:
        return
    try:
        async_to_sync(_send_within)(layer, message)
    except BaseException:
        _paused_until = time.monotonic() + PUBLISH_PAUSE
        raise


async def _send_within(layer: BaseChannelLayer, message: dict[str, Any]) -> None:
    await asyncio.wait_for(layer.group_send(GROUP, message), PUBLISH_TIMEOUT)
