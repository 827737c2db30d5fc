"""Billed token usage of one request: what the gateway read from the upstream's answer and what
the request log prices."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Usage:
    """Tokens as billed, each kind counted once, so cost = Σ count × its rate.

    input_tokens: uncached input, billed at the input rate. Providers that report a total prompt
        count including cached tokens (OpenAI `prompt_tokens`, Gemini `promptTokenCount`) have
        the cached part subtracted; Anthropic's `input_tokens` already excludes it.
    output_tokens: generated tokens, reasoning or thinking tokens included.
    cache_read_tokens: input served from the provider's prompt cache (cache-read rate).
    cache_write_tokens: input written to the prompt cache (Anthropic's cache-creation rate).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
