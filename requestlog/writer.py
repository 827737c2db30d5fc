"""The request log's writer: finished requests queue as rows, a background thread saves them.

A proxied request only puts its row's field values on a bounded in-memory queue; a thread
builds and prices the rows and writes them in multi-row inserts; a refused batch is written row by
row, an unstorable row as a placeholder. While the database is unreachable (a restart, a
failover) the batch is kept and retried at every interval, and new rows wait in the bounded
queue; a full queue drops rows (counted in metrics and logged) but never fails or slows a
request. `flush()` writes what is queued from the calling thread: tests use it, and so does a
graceful shutdown; rows a shutdown cannot write go to a spill file that the next start replays.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from requestlog import metrics, pricing, spill, storable
from requestlog.models import RequestLog
from requestlog.signals import rows_written
from requestlog.usage import Usage
from routing.models import UpstreamRoute

logger = logging.getLogger(__name__)

# A row's field values and the billed usage it is priced from (requestlog.spill.Pending), both
# built on the writer thread.
Pending = spill.Pending


class LogWriter:
    def __init__(self) -> None:
        self.queue: queue.Queue[Pending] | None = None
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()
        self.stopping = threading.Event()
        # Held while rows are taken off the queue and written, so a flush cannot miss a batch
        # the thread has taken but not yet saved.
        self.write_lock = threading.Lock()
        self.start_lock = threading.Lock()
        self.exit_hook = False
        # A batch the database could not take because it was unreachable, retried first.
        self.held: list[Pending] = []

    def rows(self) -> queue.Queue[Pending]:
        if self.queue is None:
            with self.start_lock:
                if self.queue is None:
                    self.queue = queue.Queue(maxsize=settings.HEADROOM_LOG_QUEUE_SIZE)
        return self.queue

    def submit(self, values: dict[str, object], usage: Usage | None) -> None:
        """Queue one row's values; never blocks, never raises."""
        try:
            self._put(values, usage)
        except Exception:
            logger.exception("request log: could not queue request %s", values.get("request_id"))
            drop(1, "error")

    def _put(self, values: dict[str, object], usage: Usage | None) -> None:
        rows = self.rows()
        try:
            rows.put_nowait((values, usage))
        except queue.Full:
            drop(1, "queue_full")
            return
        self.ensure_started()
        if rows.qsize() >= settings.HEADROOM_LOG_BATCH_SIZE:
            self.wake.set()

    def ensure_started(self) -> bool:
        """Start the writer thread unless turned off (HEADROOM_LOG_FLUSH_SECONDS=0) or stopping."""
        if self.running or self.stopping.is_set() or settings.HEADROOM_LOG_FLUSH_SECONDS <= 0:
            return self.running
        with self.start_lock:
            if not self.running:
                self.thread = threading.Thread(
                    target=self._run, name="headroom-log-writer", daemon=True
                )
                self.thread.start()
                if not self.exit_hook:
                    # The fallback when no server shutdown hook ran (or rows came after it).
                    atexit.register(self.stop)
                    self.exit_hook = True
        return True

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def _run(self) -> None:
        interval = settings.HEADROOM_LOG_FLUSH_SECONDS
        try:
            while not self.stopping.is_set():
                self.wake.wait(interval)
                self.wake.clear()
                self.flush()
                # The writer keeps its one connection between batches, except after a database
                # error: that one may be broken, so the next batch reconnects.
                if connection.errors_occurred:
                    connection.close()
        finally:
            # The connection belongs to this thread: close it here, or a PostgreSQL session
            # stays open until the process exits.
            connection.close()

    def flush(self) -> int:
        """Write every queued row now, from the calling thread; returns how many were saved."""
        saved = 0
        with self.write_lock:
            while batch := self.held or self._take(settings.HEADROOM_LOG_BATCH_SIZE):
                self.held = []
                try:
                    saved += write(batch)
                except Unreachable:
                    # Kept for the next flush (the writer thread reconnects before it).
                    self.held = batch
                    break
        return saved

    def _take(self, limit: int) -> list[Pending]:
        rows = self.rows()
        batch: list[Pending] = []
        while len(batch) < limit:
            try:
                batch.append(rows.get_nowait())
            except queue.Empty:
                break
        return batch

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown: stop the thread, then write whatever is still queued."""
        self.stopping.set()
        self.wake.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        try:
            self.flush()
        finally:
            connection.close()
        if self.pending():
            self.spill()

    def spill(self) -> None:
        """Rows the unreachable database could not take at a stop go to a spill file, which
        the next start writes (`replay_spilled`); without one they are dropped and counted."""
        rows = self.held + self._take(self.pending())
        self.held = []
        try:
            path = spill.save(rows)
        except Exception as exc:
            logger.error("request log: could not spill rows (%s)", type(exc).__name__)
            path = None
        if path is None:
            logger.error("request log: %d rows dropped, the database is unreachable", len(rows))
            drop(len(rows), "db_error")
            return
        logger.warning(
            "request log: the database is unreachable, %d rows kept in %s", len(rows), path
        )

    def pending(self) -> int:
        return len(self.held) + (0 if self.queue is None else self.queue.qsize())


def replay_spilled() -> int:
    """Write the rows earlier stops spilled, then delete each file; returns the rows written.

    A row whose request id is in the table already is skipped, so a replay cut short (a crash,
    the database gone again) is simply run again at the next start: no row is written twice.
    A file stays until all its rows are in.
    """
    written = 0
    for path in spill.files():
        rows = list(spill.load(path))
        size = max(settings.HEADROOM_LOG_BATCH_SIZE, 1)
        try:
            for start in range(0, len(rows), size):
                fresh = not_yet_written(rows[start : start + size])
                if fresh:
                    written += write(fresh)
        except Unreachable:
            logger.error("request log: database unreachable, %s kept for the next start", path)
            break
        path.unlink()
        logger.info("request log: %d spilled rows from %s replayed", len(rows), path)
    return written


def not_yet_written(batch: list[Pending]) -> list[Pending]:
    ids = [values["request_id"] for values, _ in batch]
    try:
        found = RequestLog.objects.filter(request_id__in=ids).values_list("request_id", flat=True)
        present = set(found)
    except (OperationalError, InterfaceError) as exc:
        raise Unreachable() from exc
    return [(values, usage) for values, usage in batch if values["request_id"] not in present]


class Unreachable(Exception):
    """The database could not be reached; the batch is worth retrying as it is."""


def write(batch: list[Pending]) -> int:
    """Price and save one batch. If the database refuses it, the rows are written one by one,
    so one unstorable row never costs other callers' rows."""
    try:
        rows = build(batch)
        RequestLog.objects.add_rows(rows)
    except (OperationalError, InterfaceError) as exc:
        # Only the error's type: its message may quote a caller's text.
        logger.warning(
            "request log: database unreachable (%s), %d rows kept", type(exc).__name__, len(batch)
        )
        raise Unreachable() from exc
    except Exception as exc:
        # The message may quote the refused value (a caller's text): only its type is logged.
        logger.warning(
            "request log: a batch of %d rows was refused (%s), writing them one by one",
            len(batch),
            type(exc).__name__,
        )
        rows = write_one_by_one(batch)
    if rows:
        metrics.LOG_ROWS_WRITTEN.inc(len(rows))
        rows_written.send(sender=RequestLog, rows=rows)
    return len(rows)


def build(batch: list[Pending]) -> list[RequestLog]:
    rows = [RequestLog(**values) for values, _ in batch]
    for row, (_, usage) in zip(rows, batch, strict=True):
        price(row, usage)
    forget_deleted_routes(rows)
    return rows


def write_one_by_one(batch: list[Pending]) -> list[RequestLog]:
    """Each row on its own; a row still refused is replaced by its placeholder (status, tokens
    and cost kept). When even a placeholder is refused the database itself is failing: the
    rest of the batch is dropped, counted and logged, instead of trying every row twice."""
    saved: list[RequestLog] = []
    for index, (values, usage) in enumerate(batch):
        row = write_one(values, usage) or write_one(storable.placeholder(values), usage)
        if row is None:
            logger.error(
                "request log: %d rows dropped, the database write failed", len(batch) - index
            )
            drop(len(batch) - index, "db_error")
            break
        saved.append(row)
    return saved


def write_one(values: dict[str, object], usage: Usage | None) -> RequestLog | None:
    try:
        [row] = build([(values, usage)])
        RequestLog.objects.add_rows([row])
    except Exception as exc:
        logger.warning(
            "request log: request %s refused (%s)",
            storable.plain(values.get("request_id", ""), 64),
            type(exc).__name__,
        )
        return None
    return row


def forget_deleted_routes(rows: list[RequestLog]) -> None:
    """A route deleted while its rows waited in the queue must not sink the whole batch; the
    rows keep the copy of its prefix, as they do when a route is deleted later."""
    route_ids = {row.route_id for row in rows if row.route_id is not None}
    if not route_ids:
        return
    live = set(UpstreamRoute.objects.filter(pk__in=route_ids).values_list("pk", flat=True))
    for row in rows:
        if row.route_id not in live:
            row.route_id = None


def price(row: RequestLog, usage: Usage | None) -> None:
    rate = pricing.find_rate(row.model_forwarded, row.model)
    cost = pricing.compute(
        rate,
        usage,
        tokens_before=row.tokens_before,
        tokens_after=row.tokens_after,
        cache_hit=row.cache_hit,
        estimated_input=row.estimated_tokens_after,
        billed=pricing.billable(row.status, row.endpoint),
    )
    row.cost_usd, row.saved_usd, row.cost_source = cost.cost_usd, cost.saved_usd, cost.source


def drop(count: int, reason: str) -> None:
    metrics.LOG_ROWS_DROPPED.labels(reason=reason).inc(count)
    if reason == "queue_full":
        logger.warning("request log: queue full, %d row dropped", count)


writer = LogWriter()
metrics.LOG_QUEUE_DEPTH.set_function(writer.pending)


def submit(values: dict[str, object], usage: Usage | None) -> None:
    writer.submit(values, usage)


def flush() -> int:
    return writer.flush()
