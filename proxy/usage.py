"""Billed token usage of one request, as the upstream reported it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Usage:
    """Tokens as billed. input_tokens counts uncached input only; cache reads and writes apart."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
