"""How a client is pointed at this gateway: one copyable snippet per client, for the page's
"first request" panel, built around the base URL the browser reached the dashboard on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Snippet:
    id: str
    title: str
    text: str


def snippets(base_url: str) -> list[Snippet]:
    """The snippets for a gateway at base_url (scheme and host, no trailing slash)."""
    return [
        Snippet(
            "openai",
            "OpenAI SDK (Python)",
            "from openai import OpenAI\n\n"
            f'client = OpenAI(\n    base_url="{base_url}/v1",\n    api_key="sk-…",\n)\n'
            "reply = client.chat.completions.create(\n"
            '    model="gpt-4.1-mini",\n'
            '    messages=[{"role": "user", "content": "Hello"}],\n'
            ")\n"
            "print(reply.choices[0].message.content)",
        ),
        Snippet(
            "anthropic",
            "Anthropic SDK (Python)",
            "from anthropic import Anthropic\n\n"
            f'client = Anthropic(\n    base_url="{base_url}",\n    api_key="sk-ant-…",\n)\n'
            "reply = client.messages.create(\n"
            '    model="claude-sonnet-4-5",\n'
            "    max_tokens=256,\n"
            '    messages=[{"role": "user", "content": "Hello"}],\n'
            ")\n"
            "print(reply.content[0].text)",
        ),
        Snippet(
            "curl",
            "curl",
            f"curl {base_url}/v1/chat/completions \\\n"
            '  -H "Authorization: Bearer $OPENAI_API_KEY" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            "  -d '{\n"
            '    "model": "gpt-4.1-mini",\n'
            '    "messages": [{"role": "user", "content": "Hello"}]\n'
            "  }'",
        ),
        Snippet(
            "claude-code",
            "Claude Code",
            f"export ANTHROPIC_BASE_URL={base_url}\nclaude",
        ),
    ]
