"""Request-log rows kept on disk when a worker stops while the database is unreachable: written
as JSON lines to HEADROOM_LOG_SPILL_DIR, read back by the next start (`writer.replay_spilled`).

A spilled row is the field values the hot path built (no bodies, no headers, no credentials:
rows never hold any) and the billed usage it is priced from.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils.dateparse import parse_datetime

from requestlog.usage import Usage

Pending = tuple[dict[str, object], Usage | None]
# Spill files are named so that a listing sorted by name replays them in the order written.
PREFIX, SUFFIX = "requestlog-", ".jsonl"


def directory() -> Path | None:
    """Where rows are spilled; None when spilling is turned off (an empty setting)."""
    configured = settings.HEADROOM_LOG_SPILL_DIR
    return Path(configured) if configured else None


def save(rows: list[Pending]) -> Path | None:
    """Write the rows to a new spill file, whole or not at all; returns its path."""
    folder = directory()
    if folder is None or not rows:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{PREFIX}{time.time_ns():020d}-{os.getpid()}{SUFFIX}"
    # Written under a temporary name and renamed: a crash mid-write leaves no half file that
    # the next start would take for rows.
    handle, temporary = tempfile.mkstemp(prefix=".spilling-", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        for values, usage in rows:
            out.write(encode(values, usage) + "\n")
        out.flush()
        os.fsync(out.fileno())
    final = folder / name
    os.replace(temporary, final)
    return final


def files() -> list[Path]:
    """The spill files waiting to be replayed, oldest first."""
    folder = directory()
    if folder is None or not folder.is_dir():
        return []
    return sorted(folder.glob(f"{PREFIX}*{SUFFIX}"))


def load(path: Path) -> Iterator[Pending]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield decode(line)


def encode(values: dict[str, object], usage: Usage | None) -> str:
    plain = {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in values.items()
    }
    # Values are plain texts, numbers, flags and the one datetime; `str` covers anything else.
    usage_fields = None if usage is None else asdict(usage)
    return json.dumps({"values": plain, "usage": usage_fields}, default=str)


def decode(line: str) -> Pending:
    data = json.loads(line)
    values: dict[str, object] = data["values"]
    created = values.get("created")
    if isinstance(created, str):
        values["created"] = parse_datetime(created)
    usage = data.get("usage")
    return values, None if usage is None else Usage(**usage)
