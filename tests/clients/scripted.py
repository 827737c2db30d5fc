"""Scripted model answers for the agent CLIs, in each wire format: a tool call first, then,
once a request carries the tool's output, a final text. Anything else gets a short text."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.clients.harness import FINAL_TEXT, MARKER
from tests.mock_upstream import Recorded, Reply

USAGE = {"input_tokens": 120, "output_tokens": 12}


def _sse(events: list[tuple[str | None, dict]]) -> Reply:
    chunks = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        chunks.append(f"{head}data: {json.dumps(data)}\n\n".encode())
    return Reply.sse(chunks)


def _saw_tool_output(request: Recorded) -> bool:
    return MARKER in request.body.decode("utf-8", "replace")


# Anthropic Messages (Claude Code).


def anthropic(tool: str, arguments: dict) -> Callable[[Recorded], Reply]:
    def reply(request: Recorded) -> Reply:
        if not request.path.startswith("/v1/messages"):
            return Reply.json({"data": [], "has_more": False, "first_id": None, "last_id": None})
        if request.path.endswith("/count_tokens"):
            return Reply.json({"input_tokens": 120})
        body = request.json()
        assert isinstance(body, dict)
        names = [item.get("name") for item in body.get("tools") or []]
        if tool in names and not _saw_tool_output(request):
            block = {"type": "tool_use", "id": "toolu_01", "name": tool, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(arguments)}
            return _anthropic_stream(body, block, delta, "tool_use")
        text = FINAL_TEXT if _saw_tool_output(request) else "ok"
        block = {"type": "text", "text": ""}
        return _anthropic_stream(body, block, {"type": "text_delta", "text": text}, "end_turn")

    return reply


def _anthropic_stream(body: dict, block: dict, delta: dict, stop: str) -> Reply:
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": USAGE["input_tokens"], "output_tokens": 1},
    }
    if not body.get("stream"):
        content = dict(block)
        if delta["type"] == "text_delta":
            content["text"] = delta["text"]
        else:
            content["input"] = json.loads(delta["partial_json"])
        return Reply.json({**message, "content": [content], "stop_reason": stop, "usage": USAGE})
    return _sse(
        [
            ("message_start", {"type": "message_start", "message": message}),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": block},
            ),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": USAGE["output_tokens"]},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
    )


# OpenAI Responses (Codex).

# Codex's shell tool has had several names and argument shapes; answer with the one it offers.
SHELL_TOOLS = {
    "exec_command": lambda command: {"cmd": command},
    "shell_command": lambda command: {"command": command},
    "shell": lambda command: {"command": ["bash", "-lc", command]},
}


def responses(command: str) -> Callable[[Recorded], Reply]:
    def reply(request: Recorded) -> Reply:
        if not request.path.startswith("/v1/responses"):
            return Reply.json({"object": "list", "data": []})
        body = request.json()
        assert isinstance(body, dict)
        offered = {tool.get("name") for tool in body.get("tools") or [] if isinstance(tool, dict)}
        tool = next((name for name in SHELL_TOOLS if name in offered), None)
        if tool is not None and not _saw_tool_output(request):
            item = {
                "type": "function_call",
                "id": "fc_01",
                "call_id": "call_01",
                "name": tool,
                "arguments": json.dumps(SHELL_TOOLS[tool](command)),
                "status": "completed",
            }
        else:
            text = FINAL_TEXT if _saw_tool_output(request) else "ok"
            item = {
                "type": "message",
                "id": "msg_01",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        return _responses_stream(body, item)

    return reply


def _responses_stream(body: dict, item: dict) -> Reply:
    response = {
        "id": "resp_01",
        "object": "response",
        "created_at": 1754000000,
        "status": "in_progress",
        "model": body.get("model", "gpt-5"),
        "output": [],
    }
    usage = {
        "input_tokens": USAGE["input_tokens"],
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": USAGE["output_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": USAGE["input_tokens"] + USAGE["output_tokens"],
    }
    done = {**response, "status": "completed", "output": [item], "usage": usage}
    events: list[tuple[str | None, dict]] = [
        ("response.created", {"type": "response.created", "response": response}),
        (
            "response.output_item.added",
            {"type": "response.output_item.added", "output_index": 0, "item": item},
        ),
    ]
    if item["type"] == "message":
        text = item["content"][0]["text"]
        events.append(
            (
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": 0,
                    "content_index": 0,
                    "delta": text,
                },
            )
        )
    events += [
        (
            "response.output_item.done",
            {"type": "response.output_item.done", "output_index": 0, "item": item},
        ),
        ("response.completed", {"type": "response.completed", "response": done}),
    ]
    return _sse(events)


# OpenAI Chat Completions (OpenCode's openai-compatible provider).


def chat(tool: str, arguments: dict) -> Callable[[Recorded], Reply]:
    def reply(request: Recorded) -> Reply:
        if not request.path.startswith("/v1/chat/completions"):
            return Reply.json({"object": "list", "data": []})
        body = request.json()
        assert isinstance(body, dict)
        offered = {
            (item.get("function") or {}).get("name")
            for item in body.get("tools") or []
            if isinstance(item, dict)
        }
        if tool in offered and not _saw_tool_output(request):
            call = {
                "index": 0,
                "id": "call_01",
                "type": "function",
                "function": {"name": tool, "arguments": json.dumps(arguments)},
            }
            return _chat_stream(body, {"role": "assistant", "tool_calls": [call]}, "tool_calls")
        text = FINAL_TEXT if _saw_tool_output(request) else "ok"
        return _chat_stream(body, {"role": "assistant", "content": text}, "stop")

    return reply


def _chat_stream(body: dict, delta: dict, finish: str) -> Reply:
    def chunk(choices: list, **extra: object) -> dict:
        head = {"id": "chatcmpl-01", "object": "chat.completion.chunk", "created": 1754000000}
        return {**head, "model": body.get("model", "gpt-5"), "choices": choices, **extra}

    events: list[tuple[str | None, dict]] = [
        (None, chunk([{"index": 0, "delta": delta, "finish_reason": None}])),
        (None, chunk([{"index": 0, "delta": {}, "finish_reason": finish}])),
    ]
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {
            "prompt_tokens": USAGE["input_tokens"],
            "completion_tokens": USAGE["output_tokens"],
            "total_tokens": USAGE["input_tokens"] + USAGE["output_tokens"],
        }
        events.append((None, chunk([], usage=usage)))
    reply = _sse(events)
    assert reply.chunks is not None
    reply.chunks.append((0.0, b"data: [DONE]\n\n"))
    return reply


# Gemini generateContent (Gemini CLI).

# What side requests that ask for JSON (next-speaker checks, model routing) are answered with.
GEMINI_JSON_ANSWER = {"reasoning": "done", "next_speaker": "user", "model_choice": "flash"}


def gemini(tool: str, path: str) -> Callable[[Recorded], Reply]:
    """A `tool` call with `path` in the declared tool's first required parameter."""

    def reply(request: Recorded) -> Reply:
        if ":" not in request.path:
            return Reply.json({"models": []})
        if request.path.endswith(":countTokens"):
            return Reply.json({"totalTokens": 120})
        body = request.json()
        assert isinstance(body, dict)
        declared = _gemini_declaration(body, tool)
        if (body.get("generationConfig") or {}).get("responseMimeType") == "application/json":
            part = {"text": json.dumps(GEMINI_JSON_ANSWER)}
        elif declared is not None and not _saw_tool_output(request):
            required = declared.get("parameters") or declared.get("parametersJsonSchema") or {}
            name = (required.get("required") or ["file_path"])[0]
            part = {"functionCall": {"name": tool, "args": {name: path}}}
        else:
            part = {"text": FINAL_TEXT if _saw_tool_output(request) else "ok"}
        return _gemini_answer(request, part)

    return reply


def _gemini_declaration(body: dict, tool: str) -> dict | None:
    for group in body.get("tools") or []:
        for declaration in group.get("functionDeclarations") or []:
            if declaration.get("name") == tool:
                return declaration
    return None


def _gemini_answer(request: Recorded, part: dict) -> Reply:
    chunk = {
        "candidates": [
            {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": USAGE["input_tokens"],
            "candidatesTokenCount": USAGE["output_tokens"],
            "totalTokenCount": USAGE["input_tokens"] + USAGE["output_tokens"],
        },
        "modelVersion": "gemini-2.5-flash",
    }
    if request.path.endswith(":streamGenerateContent"):
        return _sse([(None, chunk)])
    return Reply.json(chunk)
