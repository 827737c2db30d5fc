"""The transforms one tool-output block gets under a policy, and the JSON spliced in its place.

A block's result depends only on the block, the policy and what the messages before it say (its
context), never on later messages or the clock, so the same tool output becomes the same bytes
in every turn of a conversation.
"""

from __future__ import annotations

from typing import Any

from proxy.compression import memo
from proxy.compression.arrays import thin_array
from proxy.compression.blocks import Block
from proxy.compression.context import NO_CONTEXT, Context
from proxy.compression.jsontext import dump_compact, dump_string, read_document
from proxy.compression.kinds import is_exact
from proxy.compression.logs import compress_log
from proxy.compression.policy import Policy
from proxy.compression.repeats import fold_repeats
from proxy.compression.text import clean_text
from proxy.compression.wrappers import unwrap

results = memo.Memo()


def compress_text(text: str, policy: Policy, context: Context = NO_CONTEXT) -> str:
    """Tool-output text after the policy's transforms; may be unchanged.

    A wrapper a client put around the output (Codex's header, Gemini CLI's tags) is kept as sent
    and the output inside it is compressed. Files, patches, prose and text not known to be
    command output are returned as they are, in every mode. JSON documents are minified, and when
    aggressive also thinned with their long strings compressed (lossless mode keeps their value
    exactly). Command output is cleaned, when aggressive thinned as a log, keeping every line
    that holds a term of `context`, and then its repeated lines and blocks are folded, which
    every mode may do because the count in the marker says what was removed.
    """
    wrapped = unwrap(text)
    if wrapped is not None:
        payload = compress_text(wrapped.payload, policy, context)
        return text if payload == wrapped.payload else wrapped.head + payload + wrapped.tail
    if context.reads_a_file or context.shows_a_diff:
        return text
    document = read_document(text)
    if document is not None:
        value = document.value
        if policy.aggressive:
            value = compress_value(value, policy, context)
        compact = dump_compact(value, native=document.native)
        return text if compact is None else compact
    if is_exact(text, context):
        return text
    cleaned = clean_text(text)
    # The log thinner reads the lines as the program printed them, so folding comes after it.
    thinned = compress_log(cleaned, context.terms) if policy.aggressive else cleaned
    return fold_repeats(thinned)


def compress_value(value: Any, policy: Policy, context: Context = NO_CONTEXT) -> Any:
    """A parsed JSON value with its long strings compressed and, when aggressive, its
    similar-object arrays thinned, keeping the items that hold a term of `context`."""
    if isinstance(value, list):
        thinned = thin_array(value, context.terms) if policy.aggressive else None
        kept = value if thinned is None else thinned
        return [compress_value(item, policy, context) for item in kept]
    if isinstance(value, dict):
        return {key: compress_value(member, policy, context) for key, member in value.items()}
    if isinstance(value, str) and len(value) >= policy.min_bytes:
        return compress_text(value, policy, context)
    return value


def key_of(block: Block, body: str, policy: Policy) -> tuple[object, ...] | None:
    """The memo key of a block's result, or None when the block is too small to touch."""
    raw = body[block.span.start : block.span.end]
    if not _at_least(raw, policy.min_bytes):
        return None
    subject = raw if block.structured else block.span.value
    return (block.structured, policy, memo.digest(subject), block.context.key)


def replacement(block: Block, body: str, policy: Policy) -> str | None:
    """The JSON to splice over the block, or None to leave the block as the client sent it."""
    key = key_of(block, body, policy)
    if key is None:
        return None
    cached = results.get(key)
    if cached is not memo.MISSING:
        return cached  # type: ignore[return-value]
    if block.structured:
        raw = body[block.span.start : block.span.end]
        literal = _structured(block.span.value, raw, policy, block.context)
    else:
        literal = _text(block.span.value, policy, block.context)
    results.put(key, literal)
    return literal


def _text(text: str, policy: Policy, context: Context) -> str | None:
    compressed = compress_text(text, policy, context)
    return dump_string(compressed) if len(compressed) < len(text) else None


def _structured(value: Any, raw: str, policy: Policy, context: Context) -> str | None:
    # A structured block (a gemini function response) is the tool output itself, so its long
    # strings get the same text transforms a text block gets, lossless ones included.
    value = compress_value(value, policy, context)
    literal = dump_compact(value)
    return literal if literal is not None and len(literal) < len(raw) else None


def _at_least(raw: str, min_bytes: int) -> bool:
    # A character is at least one UTF-8 byte, so only blocks with fewer characters than the
    # minimum need an exact byte count.
    return len(raw) >= min_bytes or len(raw.encode("utf-8")) >= min_bytes
