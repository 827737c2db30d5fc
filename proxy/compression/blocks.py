"""Which values of a request body are tool output, per family and endpoint.

Only these values are ever handed to the transforms: anthropic `tool_result` content, openai chat
`tool` messages, Responses `function_call_output` items and gemini `functionResponse` parts.
System prompts, user and assistant text, tool definitions, images and documents are never listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from proxy.compression.rawjson import (
    Chooser,
    MisguidedWalk,
    Path,
    RawJsonError,
    Span,
    Trie,
    locate,
    parse,
    skip_whitespace,
)


@dataclass(frozen=True)
class Block:
    """One tool-output value: a JSON string of text, or (gemini) a structured JSON object."""

    span: Span
    structured: bool


@dataclass(frozen=True)
class Endpoint:
    root_key: str  # the top-level array holding the conversation
    chooser: Chooser  # the tool-output paths inside one element of that array
    structured: bool


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


ANTHROPIC = Endpoint("messages", anthropic_paths, structured=False)
OPENAI_CHAT = Endpoint("messages", openai_chat_paths, structured=False)
RESPONSES = Endpoint("input", responses_paths, structured=False)
GEMINI = Endpoint("contents", gemini_paths, structured=True)


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
    trie: Trie = {endpoint.root_key: endpoint.chooser}
    spans: list[Span] = []
    # orjson reads the whole body several times faster than the walk steps through it, and what
    # it reads tells the walk which messages hold tool output.
    try:
        end = locate(text, start, trie, spans, parse(text))
    except MisguidedWalk:
        spans = []
        end = locate(text, start, trie, spans)
    if skip_whitespace(text, end) != len(text):
        raise RawJsonError(f"unexpected data after the JSON object at offset {end}")
    return [
        Block(span, endpoint.structured)
        for span in spans
        if isinstance(span.value, dict if endpoint.structured else str)
    ]
