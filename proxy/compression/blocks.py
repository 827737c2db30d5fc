"""Which values of a request body are tool output, per family and endpoint.

Only these values are ever handed to the transforms: anthropic `tool_result` content, openai chat
`tool` messages, Responses `function_call_output` items and gemini `functionResponse` parts.
System prompts, user and assistant text, tool definitions, images and documents are never listed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from proxy.compression.context import NO_CONTEXT, Context
from proxy.compression.conversation import (
    AnthropicReader,
    GeminiReader,
    OpenAIChatReader,
    Reader,
    ResponsesReader,
)
from proxy.compression.rawjson import (
    Chooser,
    MisguidedWalk,
    Path,
    RawJsonError,
    Span,
    locate,
    parse,
    skip_whitespace,
)


@dataclass(frozen=True)
class Block:
    """One tool-output value: a JSON string of text, or (gemini) a structured JSON object."""

    span: Span
    structured: bool
    # The call that produced this output and the terms asked about, read from earlier messages.
    context: Context = field(default=NO_CONTEXT, compare=False)


@dataclass(frozen=True)
class Endpoint:
    root_key: str  # the top-level array holding the conversation
    chooser: Chooser  # the tool-output paths inside one element of that array
    structured: bool
    reader: Callable[[], Reader]  # reads the conversation in order for each block's context


def anthropic_paths(message: Any) -> list[Path]:
    """`tool_result` blocks of one message: string content, or the text blocks inside it."""
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return []
    paths: list[Path] = []
    for index, block in enumerate(content):
        if isinstance(block, dict) and block.get("type") == "tool_result":
            paths += _text_paths(("content", index, "content"), block.get("content"), {"text"})
    return paths


def openai_chat_paths(message: Any) -> list[Path]:
    """A `tool` role message: string content, or its text parts."""
    if not isinstance(message, dict) or message.get("role") != "tool":
        return []
    return _text_paths(("content",), message.get("content"), {"text"})


# Responses items whose `output` is the text a tool returned.
RESPONSES_OUTPUT_TYPES = frozenset({"function_call_output", "custom_tool_call_output"})


def responses_paths(item: Any) -> list[Path]:
    """A `function_call_output` item: string output, or its input_text parts."""
    if not isinstance(item, dict) or item.get("type") not in RESPONSES_OUTPUT_TYPES:
        return []
    return _text_paths(("output",), item.get("output"), {"input_text", "output_text", "text"})


def gemini_paths(content: Any) -> list[Path]:
    """The `response` object of each `functionResponse` part (camelCase or snake_case)."""
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        return []
    paths: list[Path] = []
    for index, part in enumerate(parts):
        if not isinstance(part, dict):
            continue
        for name in ("functionResponse", "function_response"):
            call = part.get(name)
            if isinstance(call, dict) and isinstance(call.get("response"), dict):
                paths.append(("parts", index, name, "response"))
    return paths


def _text_paths(base: Path, value: Any, text_types: set[str]) -> list[Path]:
    if isinstance(value, str):
        return [base]
    if not isinstance(value, list):
        return []
    return [
        (*base, index, "text")
        for index, part in enumerate(value)
        if isinstance(part, dict)
        and part.get("type") in text_types
        and isinstance(part.get("text"), str)
    ]


ANTHROPIC = Endpoint("messages", anthropic_paths, structured=False, reader=AnthropicReader)
OPENAI_CHAT = Endpoint("messages", openai_chat_paths, structured=False, reader=OpenAIChatReader)
RESPONSES = Endpoint("input", responses_paths, structured=False, reader=ResponsesReader)
GEMINI = Endpoint("contents", gemini_paths, structured=True, reader=GeminiReader)


def endpoint_for(family: str, path: str) -> Endpoint | None:
    """The endpoint shape of a request path, or None where requests carry no tool output."""
    path = unquote(path.split("?", 1)[0]).rstrip("/")
    if family == "anthropic" and path.endswith(("/messages", "/messages/count_tokens")):
        return ANTHROPIC
    if family == "openai" and path.endswith("/chat/completions"):
        return OPENAI_CHAT
    if family == "openai" and path.endswith(("/responses", "/responses/input_tokens")):
        return RESPONSES
    if family == "gemini" and path.endswith(
        (":generateContent", ":streamGenerateContent", ":countTokens")
    ):
        return GEMINI
    return None


def find_blocks(endpoint: Endpoint, text: str) -> list[Block]:
    """Every tool-output value of the body, in document order. Raises RawJsonError on bad JSON."""
    start = skip_whitespace(text, 0)
    if not text.startswith("{", start):
        raise RawJsonError("the body is not a JSON object")
    try:
        spans, contexts, end = _walk(endpoint, text, start, parse(text))
    except MisguidedWalk:
        spans, contexts, end = _walk(endpoint, text, start)
    if skip_whitespace(text, end) != len(text):
        raise RawJsonError(f"unexpected data after the JSON object at offset {end}")
    return [
        Block(span, endpoint.structured, context)
        for span, context in zip(spans, contexts, strict=True)
        if isinstance(span.value, dict if endpoint.structured else str)
    ]


def _walk(
    endpoint: Endpoint, text: str, start: int, *guide: Any
) -> tuple[list[Span], list[Context], int]:
    """The tool-output spans of the body, each with its context, and the body's end.

    The chooser sees the conversation's elements in order, so a reader riding along with it
    knows, at each element, everything that came before it.
    """
    spans: list[Span] = []
    reader = endpoint.reader()
    # (the number of spans found before an element, the contexts of its chosen paths)
    records: list[tuple[int, list[Context]]] = []

    def choose(element: Any) -> list[Path]:
        paths = endpoint.chooser(element)
        records.append((len(spans), reader.contexts(element, paths) if paths else []))
        if not paths:
            reader.read(element)
        return paths

    # orjson reads the whole body several times faster than the walk steps through it, and what
    # it reads tells the walk which messages hold tool output.
    end = locate(text, start, {endpoint.root_key: choose}, spans, *guide)
    return spans, _span_contexts(records, len(spans)), end


def _span_contexts(records: list[tuple[int, list[Context]]], total: int) -> list[Context]:
    found: list[Context] = []
    bounds = [first for first, _ in records] + [total]
    for (first, contexts), stop in zip(records, bounds[1:], strict=True):
        count = stop - first
        if count == len(contexts):
            found += contexts
        else:
            # A key sent twice gives an element more spans than paths: each gets every term.
            terms = tuple(dict.fromkeys(t for c in contexts for t in c.terms))
            found += [Context(terms=terms)] * count
    return found
