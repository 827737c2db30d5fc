"""Values every database accepts: request-log text without lone surrogates or NUL, cut to its
column, and the placeholder values that stand in for a row the database still refuses.
"""

from __future__ import annotations

import math
import re

# A lone surrogate (`"\ud800"` in JSON) cannot be encoded as UTF-8, so neither SQLite nor
# PostgreSQL can store it; PostgreSQL also refuses NUL in text.
SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
# PositiveIntegerField is a 32-bit signed column on PostgreSQL.
INT_MAX = 2**31 - 1
# Text columns of RequestLog and their lengths; kept beside the model by a test.
TEXT_LIMITS = {
    "request_id": 64,
    "family": 16,
    "endpoint": 500,
    "method": 16,
    "model": 200,
    "model_forwarded": 200,
    "route_label": 200,
    "upstream_host": 255,
    "team": 100,
    "error_type": 64,
    "savings_note": 64,
    "answered_route": 200,
}
COUNTS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "tokens_before",
    "tokens_after",
    "estimated_tokens_before",
    "estimated_tokens_after",
)
TIMES = ("latency_ms", "ttfb_ms", "overhead_ms")


def text(value: str, limit: int) -> str:
    """`value` cut to `limit` characters, with lone surrogates replaced and NUL removed.

    The common case (short ASCII without NUL) is two C-speed checks and no copy.
    """
    if value.isascii():
        if "\x00" not in value:
            return value[:limit]
        return value.replace("\x00", "")[:limit]
    return SURROGATE.sub(REPLACEMENT, value).replace("\x00", "")[:limit]


def plain(value: object, limit: int) -> str:
    """Printable ASCII only, other characters escaped: what a placeholder row keeps of a text."""
    escaped = str(value).encode("ascii", "backslashreplace").decode("ascii")
    return "".join(char if char.isprintable() else f"\\x{ord(char):02x}" for char in escaped)[
        :limit
    ]


def placeholder(values: dict[str, object]) -> dict[str, object]:
    """The values of a row the database refused even after `text`: its status, counts, timings
    and flags are kept; its texts are reduced to escaped ASCII and its numbers to column range."""
    kept = dict(values)
    for name, limit in TEXT_LIMITS.items():
        kept[name] = plain(values.get(name, ""), limit)
    for name in COUNTS:
        if kept.get(name) is not None:
            kept[name] = min(max(_int(kept[name]), 0), INT_MAX)
    for name in TIMES:
        if kept.get(name) is not None:
            kept[name] = _finite(kept[name])
    kept["error_type"] = kept["error_type"] or "unstorable_row"
    return kept


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError, OverflowError):
        return 0


def _finite(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0
