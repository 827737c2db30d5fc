"""The transforms one tool-output block gets under a policy, and the JSON spliced in its place.

A block's result depends only on the block and the policy, never on the rest of the request, so
the same tool output becomes the same bytes in every turn of a conversation.
"""

from __future__ import annotations

from typing import Any

from proxy.compression import memo
from proxy.compression.arrays import thin_array
from proxy.compression.blocks import Block
from proxy.compression.jsontext import dump_compact, dump_string, read_document
from proxy.compression.logs import compress_log, looks_like_log
from proxy.compression.policy import Policy
from proxy.compression.text import clean_text

results = memo.Memo()


def compress_text(text: str, policy: Policy) -> str:
    """Tool-output text after the policy's transforms; may be unchanged.

    JSON documents are minified, and when aggressive also thinned with their long strings
    compressed (lossless mode keeps their value exactly). Other text is cleaned, and when
    aggressive and shaped like log output, thinned as a log; source files, diffs and prose are
    only ever cleaned, since an agent reading a file needs all of it.
    """
    document = read_document(text)
    if document is not None:
        value = document.value
        if policy.aggressive:
            value = compress_value(value, policy)
        compact = dump_compact(value, native=document.native)
        return text if compact is None else compact
    cleaned = clean_text(text)
    if policy.aggressive and looks_like_log(cleaned):
        return compress_log(cleaned)
    return cleaned


def compress_value(value: Any, policy: Policy) -> Any:
    """A parsed JSON value with its long strings compressed and, when aggressive, its
    similar-object arrays thinned."""
    if isinstance(value, list):
        thinned = thin_array(value) if policy.aggressive else None
        return [compress_value(item, policy) for item in (value if thinned is None else thinned)]
    if isinstance(value, dict):
        return {key: compress_value(member, policy) for key, member in value.items()}
    if isinstance(value, str) and len(value) >= policy.min_bytes:
        return compress_text(value, policy)
    return value


def replacement(block: Block, body: str, policy: Policy) -> str | None:
    """The JSON to splice over the block, or None to leave the block as the client sent it."""
    raw = body[block.span.start : block.span.end]
    if not _at_least(raw, policy.min_bytes):
        return None
    subject = raw if block.structured else block.span.value
    key = (block.structured, policy, memo.digest(subject))
    cached = results.get(key)
    if cached is not memo.MISSING:
        return cached  # type: ignore[return-value]
    if block.structured:
        literal = _structured(block.span.value, raw, policy)
    else:
        literal = _text(block.span.value, policy)
    results.put(key, literal)
    return literal


def _text(text: str, policy: Policy) -> str | None:
    compressed = compress_text(text, policy)
    return dump_string(compressed) if len(compressed) < len(text) else None


def _structured(value: Any, raw: str, policy: Policy) -> str | None:
    # A structured block (a gemini function response) is the tool output itself, so its long
    # strings get the same text transforms a text block gets, lossless ones included.
    value = compress_value(value, policy)
    literal = dump_compact(value)
    return literal if literal is not None and len(literal) < len(raw) else None


def _at_least(raw: str, min_bytes: int) -> bool:
    # A character is at least one UTF-8 byte, so only blocks with fewer characters than the
    # minimum need an exact byte count.
    return len(raw) >= min_bytes or len(raw.encode("utf-8")) >= min_bytes
