"""Prometheus metrics of the request log's writer: rows saved, rows lost and the queue's depth."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

LOG_ROWS_WRITTEN = Counter("headroom_request_log_rows_written", "Request log rows saved.")
LOG_ROWS_DROPPED = Counter(
    "headroom_request_log_rows_dropped",
    "Request log rows lost: queue_full, db_error, or error (could not be built).",
    ["reason"],
)
LOG_QUEUE_DEPTH = Gauge("headroom_request_log_queue_depth", "Request log rows waiting to be saved.")
