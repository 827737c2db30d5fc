"""A bounded per-process memo of block results, so a conversation's earlier turns cost a lookup.

Results are a pure function of the block, its context and the policy, so memoizing them never
changes output; it keeps turn N+1 (which repeats every tool output of turn N) well inside the
time budget. The one decision that is not pure, leaving a block as sent because the budget ran
out, is stored too, so that later turns repeat it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable

MAX_ENTRIES = 4096
MAX_CHARS = 32 * 1024 * 1024
# Decisions taken for lack of time ("left as sent") are kept apart, so that the churn of ordinary
# results does not evict them: a key and no text each, so many fit.
MAX_PINNED = 65536
# What `get` returns for a key it does not hold (None is a stored result: "unchanged").
MISSING = object()


def digest(text: str) -> bytes:
    """A collision-resistant key for a block's text, far smaller than the text."""
    # SHA-256 runs on the CPU's hash instructions where it has them: twice BLAKE2's speed here.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def digest_bytes(data: bytes) -> bytes:
    """The same kind of key for a whole request body."""
    return hashlib.sha256(data).digest()


class Memo:
    """Least-recently-used results (a replacement JSON string, or None for "unchanged")."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_chars: int = MAX_CHARS) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._items: OrderedDict[Hashable, str | None] = OrderedDict()
        self._chars = 0
        self._pinned: OrderedDict[Hashable, None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None | object:
        """The stored result, or MISSING."""
        with self._lock:
            if key in self._pinned:
                self._pinned.move_to_end(key)
                return None
            result = self._items.get(key, MISSING)
            if result is not MISSING:
                self._items.move_to_end(key)
            return result

    def put(self, key: Hashable, result: str | None, *, pinned: bool = False) -> None:
        """Store a result; `pinned` stores "unchanged" where ordinary results cannot evict it."""
        if pinned:
            with self._lock:
                self._pinned[key] = None
                self._pinned.move_to_end(key)
                if len(self._pinned) > MAX_PINNED:
                    self._pinned.popitem(last=False)
            return
        size = len(result) if result else 0
        if size > self.max_chars:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = result
            self._chars += size
            while len(self._items) > self.max_entries or self._chars > self.max_chars:
                _, evicted = self._items.popitem(last=False)
                self._chars -= len(evicted) if evicted else 0

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._pinned.clear()
            self._chars = 0

    def __len__(self) -> int:
        return len(self._items)
