"""Database work from the gateway's async path, with Django's per-request connection handling.

Gateway requests bypass Django's handler, so `request_started` / `request_finished` never fire
for them and a worker's connections would never be recycled (a database restart would leave
them broken for good). Each sync call here does what those signals do around the work, on the
thread that does it: connections past CONN_MAX_AGE or left broken by an error are closed, and the
next query reconnects. A connection inside a transaction (a test's, or a caller's) is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")


def as_request(work: Callable[P, R]) -> Callable[P, R]:
    """`work` wrapped in the request's connection handling, to run on a worker thread."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        recycle_connections()
        try:
            return work(*args, **kwargs)
        finally:
            recycle_connections()

    return run


def recycle_connections() -> None:
    """Django's `close_old_connections`, except for a connection inside a transaction."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


async def run(work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run sync database `work` off the event loop, as Django would run it for a request."""
    return await sync_to_async(as_request(work))(*args, **kwargs)
