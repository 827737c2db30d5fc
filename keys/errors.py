"""Why a caller is refused: the status, a message for the caller, a stable code and any headers
(`retry-after`); the gateway renders it in the caller's wire format."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keys.table import KeyRecord


class Refused(Exception):
    def __init__(
        self, status: int, message: str, code: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        # The key that was refused, when one was recognised: its team still names the caller.
        self.key: KeyRecord | None = None
