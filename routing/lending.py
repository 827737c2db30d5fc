"""Where an `env:` route may lend its key: the paths and methods it allows, by default the model
surfaces (SPEC §2, `allowed_paths` / `allowed_methods`).

Patterns are paths in which `*` stands for the characters of one path segment up to the next
`/` or `:`, so `/v1beta/models/*:generateContent` names one Gemini method of every model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_GEMINI_METHODS = ("generateContent", "streamGenerateContent", "countTokens")
# The model surfaces of every family: providers serve each other's shapes too (Anthropic's and
# Gemini's OpenAI-compatible chat/completions), and none of these touches files, batches,
# fine-tuning or account data.
DEFAULT_PATHS = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/models",
    "/v1/models/*",
    "/v1/messages",
    "/v1/messages/count_tokens",
    *(
        path
        for version in ("/v1beta", "/v1")
        for path in (
            f"{version}/models",
            f"{version}/models/*",
            *(f"{version}/models/*:{method}" for method in _GEMINI_METHODS),
        )
    ),
    "/v1beta/openai/chat/completions",
    "/v1beta/openai/embeddings",
    "/v1beta/openai/models",
)
DEFAULT_METHODS = ("GET", "POST")
_SEPARATORS = re.compile(r"[\s,]+")
_METHOD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Lending:
    paths: re.Pattern[str]
    methods: frozenset[str]

    def allows(self, method: str, path: str) -> bool:
        return method.upper() in self.methods and self.paths.fullmatch(path) is not None


def split(text: str) -> list[str]:
    """The items of an admin field: separated by commas, spaces or new lines."""
    return [item for item in _SEPARATORS.split(text or "") if item]


@lru_cache(maxsize=256)
def lending(allowed_paths: str, allowed_methods: str) -> Lending:
    """The compiled rule of one route's fields (cached: routes change rarely)."""
    paths = split(allowed_paths) or list(DEFAULT_PATHS)
    methods = [method.upper() for method in split(allowed_methods)] or list(DEFAULT_METHODS)
    alternatives = "|".join(_pattern(path) for path in paths) or "(?!)"
    return Lending(re.compile(alternatives), frozenset(methods))


def _pattern(path: str) -> str:
    return "(?:" + "[^/:]*".join(re.escape(part) for part in path.split("*")) + ")"


def path_problems(text: str) -> list[str]:
    return [f"{item!r} must start with /" for item in split(text) if not item.startswith("/")]


def method_problems(text: str) -> list[str]:
    return [
        f"{item!r} is not an HTTP method" for item in split(text) if not _METHOD.fullmatch(item)
    ]
