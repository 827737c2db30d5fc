"""Per-family wire knowledge: one module each for openai, anthropic and gemini.

Each module knows where the model is, how its errors look (JSON and in a stream), how an
injected credential is presented, and where usage is reported (a JSON body and a stream).
"""

from __future__ import annotations

from types import ModuleType

from proxy.protocols import anthropic, gemini, openai

FAMILIES: dict[str, ModuleType] = {
    "openai": openai,
    "anthropic": anthropic,
    "gemini": gemini,
}
# Every header through which a client may present a provider key (SPEC §4).
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")


def get(family: str) -> ModuleType:
    return FAMILIES[family]


def family_from_headers(headers: dict[str, str], query: str = "") -> str:
    """The family of a request whose path does not say it (SPEC §1, `GET /v1/models`)."""
    if "anthropic-version" in headers or "x-api-key" in headers:
        return "anthropic"
    if "x-goog-api-key" in headers or gemini.query_key(query) is not None:
        return "gemini"
    return "openai"
