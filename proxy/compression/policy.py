"""The compression policy of one request, and the gateway settings it defaults from.

Settings are read through django.conf.settings at call time, so override_settings works, and
every value has a safe default: a missing or malformed setting never stops a request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings

OFF = "off"
LOSSLESS = "lossless"
AGGRESSIVE = "aggressive"
MODES = (OFF, LOSSLESS, AGGRESSIVE)

DEFAULT_MODE = LOSSLESS
DEFAULT_MIN_BYTES = 512
DEFAULT_BUDGET_MS = 20.0


@dataclass(frozen=True)
class Policy:
    """What the transforms may do to a block: the mode, and the size below which they do nothing."""

    mode: str
    min_bytes: int = DEFAULT_MIN_BYTES

    @property
    def aggressive(self) -> bool:
        return self.mode == AGGRESSIVE


@dataclass(frozen=True)
class RequestPolicy:
    """The policy of one request plus its time budget, as `compress_request` takes them."""

    mode: str
    min_bytes: int
    budget_ms: float


def from_settings(route_mode: str = "") -> RequestPolicy:
    """A route's compression field (blank = the gateway default) combined with the settings.

    HEADROOM_COMPRESSION_DEFAULT (off / lossless / aggressive, default lossless),
    HEADROOM_COMPRESSION_MIN_BYTES (default 512) and HEADROOM_COMPRESSION_BUDGET_MS (default 20).
    """
    default = _mode(getattr(settings, "HEADROOM_COMPRESSION_DEFAULT", DEFAULT_MODE))
    return RequestPolicy(
        mode=_mode(route_mode) or default or DEFAULT_MODE,
        min_bytes=int(_number("HEADROOM_COMPRESSION_MIN_BYTES", DEFAULT_MIN_BYTES)),
        budget_ms=_number("HEADROOM_COMPRESSION_BUDGET_MS", DEFAULT_BUDGET_MS),
    )


def _mode(value: object) -> str:
    """A valid mode name, or "" for blank and unknown values."""
    mode = str(value or "").strip().lower()
    return mode if mode in MODES else ""


def _number(name: str, default: float) -> float:
    """A finite non-negative numeric setting; the default when it is missing or malformed."""
    try:
        number = float(getattr(settings, name, default))
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) and number >= 0 else default
