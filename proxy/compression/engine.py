"""The entry point: one request body in, the body to forward and its token figures out.

Only tool-output values change; they are spliced into the raw body, so every other byte stays as
the client sent it. On any error the original body is returned with the reason, so compression
never fails a request. A block reached after the time budget is spent is left as sent, and that
decision is remembered for its content, so later turns send it the same way.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from proxy.compression import tokens
from proxy.compression.blocks import Block, endpoint_for, find_blocks
from proxy.compression.memo import MISSING
from proxy.compression.policy import (
    DEFAULT_BUDGET_MS,
    DEFAULT_MIN_BYTES,
    MODES,
    OFF,
    Policy,
)
from proxy.compression.rawjson import RawJsonError
from proxy.compression.transform import key_of, replacement, results

logger = logging.getLogger(__name__)

# Why a body was or was not changed (CompressionResult.reason).
COMPRESSED = "compressed"
MODE_OFF = "off"
UNKNOWN_MODE = "unknown_mode"
UNSUPPORTED_ENDPOINT = "unsupported_endpoint"
INVALID_BODY = "invalid_body"
NO_TOOL_OUTPUT = "no_tool_output"
NO_GAIN = "no_gain"
BUDGET_EXCEEDED = "budget_exceeded"
TOO_LARGE = "too_large"
ERROR_PREFIX = "error:"


class TimeLimit(BaseException):
    """Raised into the engine when a request's hard time limit runs out (a worker's alarm).

    It is not an Exception, so the engine's catch-all lets it through; the block being compressed
    when it arrives is remembered as sent, like a block reached after the budget.
    """


@dataclass(frozen=True)
class CompressionResult:
    """The body to forward, estimated tokens before and after, and why it is what it is."""

    body: bytes
    tokens_before: int
    tokens_after: int
    changed_blocks: int
    reason: str

    @property
    def tokens_saved(self) -> int:
        return self.tokens_before - self.tokens_after

    @property
    def changed(self) -> bool:
        return self.changed_blocks > 0


def compress_request(
    family: str,
    path: str,
    body: bytes,
    *,
    mode: str,
    min_bytes: int = DEFAULT_MIN_BYTES,
    budget_ms: float = DEFAULT_BUDGET_MS,
    max_bytes: int = 0,
) -> CompressionResult:
    """Compress the tool output in one request body.

    `family` is openai / anthropic / gemini and `path` the request path; together they say where
    tool output sits. `mode` is off / lossless / aggressive; blocks whose JSON as sent is smaller
    than `min_bytes` (UTF-8) are left alone; `budget_ms` (0 = no limit) bounds the time spent, and
    a body over `max_bytes` (0 = no limit) is not read at all. Never raises (but TimeLimit): on
    any failure the body comes back as sent and `reason` says why.
    """
    started = time.perf_counter()
    before = tokens.tally(body)
    mode = (mode or "").strip().lower()
    if mode == OFF:
        return _unchanged(body, before, MODE_OFF)
    if mode not in MODES:
        return _unchanged(body, before, UNKNOWN_MODE)
    endpoint = endpoint_for(family, path)
    if endpoint is None:
        return _unchanged(body, before, UNSUPPORTED_ENDPOINT)
    if max_bytes and len(body) > max_bytes:
        return _unchanged(body, before, TOO_LARGE)
    deadline = started + budget_ms / 1000 if budget_ms > 0 else None
    try:
        text = body.decode("utf-8")
        blocks = find_blocks(endpoint, text)
        return _compress(text, blocks, body, before, Policy(mode, min_bytes), deadline)
    except (UnicodeDecodeError, RawJsonError):
        return _unchanged(body, before, INVALID_BODY)
    except Exception as exc:
        # The body is forwarded as sent whatever went wrong; the class name is enough to find the
        # cause, and the message is not logged because it may quote request content.
        logger.warning("compression skipped after %s", type(exc).__name__)
        return _unchanged(body, before, ERROR_PREFIX + type(exc).__name__)


def _compress(
    text: str,
    blocks: list[Block],
    body: bytes,
    before: tokens.Tally,
    policy: Policy,
    deadline: float | None,
) -> CompressionResult:
    if not blocks:
        return _unchanged(body, before, NO_TOOL_OUTPUT)
    edits: list[tuple[Block, str]] = []
    skipped = False
    for block in blocks:
        if _late(deadline):
            skipped |= _leave_as_sent(block, text, policy)
        try:
            literal = replacement(block, text, policy)
        except TimeLimit:
            _leave_as_sent(block, text, policy)
            raise
        if literal is not None:
            edits.append((block, literal))
    if not edits:
        return _unchanged(body, before, BUDGET_EXCEEDED if skipped else NO_GAIN)
    new_body = _splice(text, edits)
    # Only the replaced values are counted again, so the cost follows the tool output changed.
    removed = added = tokens.ZERO
    for block, literal in edits:
        old = text[block.span.start : block.span.end].encode("utf-8")
        removed = tokens.combine(removed, tokens.ZERO, tokens.tally(old))
        added = tokens.combine(added, tokens.ZERO, tokens.tally(literal.encode("utf-8")))
    after = tokens.combine(before, removed, added)
    return CompressionResult(
        new_body,
        round(tokens.weigh(before)),
        round(tokens.weigh(after)),
        len(edits),
        COMPRESSED,
    )


def _splice(text: str, edits: list[tuple[Block, str]]) -> bytes:
    """The body with each block's JSON replaced and every other character as it was."""
    pieces: list[str] = []
    position = 0
    for block, literal in edits:
        pieces += (text[position : block.span.start], literal)
        position = block.span.end
    pieces.append(text[position:])
    return "".join(pieces).encode("utf-8")


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def _leave_as_sent(block: Block, text: str, policy: Policy) -> bool:
    """Decide, past the budget, that a block not yet decided goes as sent, and remember it.

    A block decided on an earlier turn keeps its decision. One decided now is recorded as
    unchanged under its content's key, so a later turn that has time to spare still sends it as
    this turn did. Returns whether this block was left for lack of time.
    """
    key = key_of(block, text, policy)
    if key is None or results.get(key) is not MISSING:
        return False
    results.put(key, None, pinned=True)
    return True


def _unchanged(body: bytes, before: tokens.Tally, reason: str) -> CompressionResult:
    estimate = round(tokens.weigh(before))
    return CompressionResult(body, estimate, estimate, 0, reason)
