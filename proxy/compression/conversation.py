"""Reading a conversation in order, to give each tool result the context of the messages before it.

One reader per family sees every element of the conversation array as the walk passes it, and
answers, for the tool output inside an element, which call produced it and what was asked.
"""

from __future__ import annotations

from typing import Any

from proxy.compression.context import Context, ToolCall, parsed_arguments, terms_of
from proxy.compression.rawjson import Path

# Text that clients add to user turns on their own (reminders, environment blocks) says nothing
# about what the user asked.
_INJECTED_PREFIXES = (
    "<system-reminder>",
    "<environment_context>",
    "<user_instructions>",
    "<session_context>",
    "# AGENTS.md instructions",
)


def _texts(content: Any, types: frozenset[str]) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [
        part["text"]
        for part in content
        if isinstance(part, dict)
        and part.get("type", "text") in types
        and isinstance(part.get("text"), str)
        and not part["text"].lstrip().startswith(_INJECTED_PREFIXES)
    ]


class Reader:
    """The state of a conversation read up to some element: the latest user text, and every tool
    call so far with the assistant text written before it."""

    TEXT_TYPES = frozenset({"text", "input_text", "output_text"})

    def __init__(self) -> None:
        self.user_text = ""
        self.calls: dict[str, tuple[ToolCall, str]] = {}

    def contexts(self, element: Any, paths: list[Path]) -> list[Context]:
        """The context of the tool output at each path of this element, then reads the element."""
        found = [self._context(self.call_id(element, path)) for path in paths]
        self.read(element)
        return found

    def _context(self, call_id: str | None) -> Context:
        call, before = self.calls.get(call_id or "", (ToolCall(), ""))
        return Context(call, terms_of([self.user_text, before], call))

    def call_id(self, element: Any, path: Path) -> str | None:
        raise NotImplementedError

    def read(self, element: Any) -> None:
        raise NotImplementedError

    def _user(self, content: Any) -> None:
        texts = _texts(content, self.TEXT_TYPES)
        if texts:
            self.user_text = "\n".join(texts)


class AnthropicReader(Reader):
    def call_id(self, element: Any, path: Path) -> str | None:
        block = element["content"][path[1]]
        return block.get("tool_use_id") if isinstance(block.get("tool_use_id"), str) else None

    def read(self, element: Any) -> None:
        if not isinstance(element, dict):
            return
        content = element.get("content")
        if element.get("role") == "user":
            self._user(content)
            return
        if not isinstance(content, list):
            return
        written: list[str] = []
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                written.append(block["text"])
            elif block.get("type") in ("tool_use", "server_tool_use") and "id" in block:
                call = ToolCall(str(block.get("name", "")), block.get("input"))
                self.calls[str(block["id"])] = (call, "\n".join(written))


class OpenAIChatReader(Reader):
    def call_id(self, element: Any, path: Path) -> str | None:
        value = element.get("tool_call_id")
        return value if isinstance(value, str) else None

    def read(self, element: Any) -> None:
        if not isinstance(element, dict):
            return
        role = element.get("role")
        if role == "user":
            self._user(element.get("content"))
        elif role == "assistant":
            written = "\n".join(_texts(element.get("content"), self.TEXT_TYPES))
            for call in element.get("tool_calls") or []:
                if isinstance(call, dict) and isinstance(call.get("function"), dict):
                    function = call["function"]
                    made = ToolCall(
                        str(function.get("name", "")), parsed_arguments(function.get("arguments"))
                    )
                    self.calls[str(call.get("id"))] = (made, written)


class ResponsesReader(Reader):
    def __init__(self) -> None:
        super().__init__()
        self.assistant_text = ""

    def call_id(self, element: Any, path: Path) -> str | None:
        value = element.get("call_id")
        return value if isinstance(value, str) else None

    def read(self, element: Any) -> None:
        if not isinstance(element, dict):
            return
        kind = element.get("type", "message")
        if kind == "message" and element.get("role") == "user":
            self._user(element.get("content"))
            self.assistant_text = ""
        elif kind == "message" and element.get("role") == "assistant":
            self.assistant_text = "\n".join(_texts(element.get("content"), self.TEXT_TYPES))
        elif kind in ("function_call", "custom_tool_call", "local_shell_call"):
            arguments = element.get("arguments", element.get("input", element.get("action")))
            made = ToolCall(str(element.get("name", "shell")), parsed_arguments(arguments))
            self.calls[str(element.get("call_id"))] = (made, self.assistant_text)


class GeminiReader(Reader):
    def call_id(self, element: Any, path: Path) -> str | None:
        response = element["parts"][path[1]][path[2]]
        # Gemini CLI sends the call's id; other clients match a response to its call by name.
        if response.get("id") and str(response["id"]) in self.calls:
            return str(response["id"])
        return "name:" + str(response.get("name", ""))

    def read(self, element: Any) -> None:
        if not isinstance(element, dict) or not isinstance(element.get("parts"), list):
            return
        parts = [part for part in element["parts"] if isinstance(part, dict)]
        if element.get("role", "user") == "user":
            self._user([{"type": "text", **part} for part in parts if "text" in part])
            return
        written: list[str] = []
        for part in parts:
            if isinstance(part.get("text"), str) and not part.get("thought"):
                written.append(part["text"])
            call = part.get("functionCall") or part.get("function_call")
            if isinstance(call, dict):
                made = ToolCall(str(call.get("name", "")), call.get("args"))
                entry = (made, "\n".join(written))
                self.calls["name:" + made.name] = entry
                if call.get("id"):
                    self.calls[str(call["id"])] = entry
