"""Signals of the request log, so readers of it (the dashboard's live feed) hear of new rows
without the writer knowing who they are."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by the log writer's thread after each batch is saved; `rows` is the list of saved rows.
rows_written = Signal()
