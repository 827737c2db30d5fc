"""Per-family wire knowledge behind one `WireFormat`: a module each for openai, anthropic and
gemini.

Each module knows how its errors look (JSON and in a stream), how an injected credential is
presented, and where usage is reported (a JSON body and a stream); the model's place and the
compressible tool output are looked up by family in `proxy.inbound` and `proxy.compression`.
"""

from __future__ import annotations

from typing import Protocol

from proxy.usage import Observer
from proxy.wire import anthropic, gemini, openai
from requestlog.usage import Usage
from routing.families import Family


class WireFormat(Protocol):
    NAME: Family

    def error_body(self, status: int, message: str, code: str) -> bytes: ...

    def stream_error(self, status: int, message: str, code: str) -> bytes: ...

    def credential_header(self, key: str) -> tuple[str, str]: ...

    def usage_from_json(self, body: bytes) -> Usage | None: ...

    def stream_observer(self, content_type: str, hide_usage_chunk: bool = False) -> Observer: ...


FORMATS: dict[str, WireFormat] = {
    Family.OPENAI: openai,
    Family.ANTHROPIC: anthropic,
    Family.GEMINI: gemini,
}
# Every header through which a client may present a provider key (SPEC §4).
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")


def get(family: str) -> WireFormat:
    return FORMATS[family]


def family_from_headers(headers: dict[str, str], query: str = "") -> str:
    """The family of a request whose path does not say it (SPEC §1, `GET /v1/models`)."""
    if "anthropic-version" in headers or "x-api-key" in headers:
        return Family.ANTHROPIC
    if "x-goog-api-key" in headers or gemini.query_key(query) is not None:
        return Family.GEMINI
    return Family.OPENAI
