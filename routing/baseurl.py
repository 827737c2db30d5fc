"""Upstream base URLs: parsing, normalization (SPEC §2) and allowlist entries (SPEC §3).

Pure functions only: nothing here resolves names or opens connections.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# A DNS label is letters, digits, '-' and '_' (some internal names use it); nothing else may
# appear in a host, so percent-escapes, backslashes and spaces never reach a resolver.
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_DNS_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_API_SUFFIXES = ("/v1", "/v1beta")
# A "." or ".." segment (also percent-encoded, or behind a backslash) would let the base URL
# leave an allowed path prefix once httpx or the upstream server normalizes the path.
_SEGMENT_SEPARATORS = re.compile(r"[/\\]")
# Percent-decoding rounds before a path is judged: a proxy or upstream may decode more than once.
_DECODING_ROUNDS = 4
# The wildcard is only recognized in front of the host, never further along the URL.
_WILDCARD = re.compile(r"^([a-z][a-z0-9+.-]*://)\*\.", re.IGNORECASE)


class InvalidBaseURL(ValueError):
    """The text is not an http(s) base URL the gateway will talk to."""


@dataclass(frozen=True)
class BaseURL:
    scheme: str
    host: str  # lower case, no trailing dot, IPv6 without brackets
    port: int
    path: str  # "" or "/segment…", never ending in "/"

    def __str__(self) -> str:
        return self.url

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}"

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    @property
    def is_ip_literal(self) -> bool:
        return ip_literal(self.host) is not None


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


# Route upstreams are parsed on every request; the cache makes that a dictionary lookup.
@lru_cache(maxsize=1024)
def parse_base_url(raw: str) -> BaseURL:
    """Parse and normalize: trims space, one trailing '/', then one trailing /v1 or /v1beta."""
    text = (raw or "").strip()
    if not text:
        raise InvalidBaseURL("the URL is empty")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in text):
        raise InvalidBaseURL("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidBaseURL(f"the URL cannot be parsed ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidBaseURL("the URL must start with http:// or https://")
    if "@" in parts.netloc:
        raise InvalidBaseURL("the URL must not contain a user name or password")
    if parts.query or "?" in text:
        raise InvalidBaseURL("the URL must not contain a query string")
    if parts.fragment or "#" in text:
        raise InvalidBaseURL("the URL must not contain a fragment")
    if port == 0:
        raise InvalidBaseURL("the URL's port must be between 1 and 65535")
    host = _normalize_host(parts.hostname or "")
    return BaseURL(scheme, host, port or DEFAULT_PORTS[scheme], _normalize_path(parts.path))


def _normalize_host(host: str) -> str:
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise InvalidBaseURL("the URL must name a host")
    if "%" not in host and ip_literal(host) is not None:
        return str(ip_literal(host))
    # A numeric last label ("127.1", "2130706433", "0x7f000001") is an address in disguise,
    # which resolvers expand in surprising ways; no real DNS name ends that way.
    last_label = host.rsplit(".", 1)[-1]
    if not _DNS_HOST.match(host) or _NUMERIC_LABEL.match(last_label):
        raise InvalidBaseURL("the URL's host is not a valid name or address")
    return host


def has_dot_segment(path: str) -> bool:
    """A `.` or `..` segment however it is disguised: percent-encoded (once or more), behind a
    backslash, or with a `;parameter` (`..;/`, which Java servers read as `..`)."""
    if "." not in path and "%" not in path:
        return False
    for _ in range(_DECODING_ROUNDS):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    segments = _SEGMENT_SEPARATORS.split(path)
    return any(segment.split(";", 1)[0] in (".", "..") for segment in segments)


def _normalize_path(path: str) -> str:
    if has_dot_segment(path):
        raise InvalidBaseURL("the URL's path must not contain '.' or '..' segments")
    if path.endswith("/"):
        path = path[:-1]
    for suffix in _API_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return path.rstrip("/")


@dataclass(frozen=True)
class AllowEntry:
    """One allowed override target: an admin row or an item of HEADROOM_ALLOWED_UPSTREAMS."""

    scheme: str
    host: str  # a name, an address, or "*.name" for any subdomain of name
    port: int
    path: str
    allow_private: bool = False
    auth: str = "passthrough"

    @classmethod
    def parse(
        cls, raw: str, *, allow_private: bool = False, auth: str = "passthrough"
    ) -> AllowEntry:
        text = raw.strip()
        if text.lower().startswith("private:"):
            text, allow_private = text[len("private:") :].lstrip(), True
        wildcard = _WILDCARD.match(text)
        if wildcard:
            text = wildcard.group(1) + text[wildcard.end() :]
        base = parse_base_url(text)
        if wildcard and base.is_ip_literal:
            raise InvalidBaseURL("a '*.' wildcard needs a DNS name, not an address")
        if wildcard and auth != "passthrough":
            # Injection there would hand the secret to every subdomain, whoever runs it.
            raise InvalidBaseURL("a '*.' wildcard entry cannot inject a key; name the host")
        host = f"*.{base.host}" if wildcard else base.host
        return cls(base.scheme, host, base.port, base.path, allow_private, auth)

    @property
    def names_explicit_host(self) -> bool:
        """An IP literal or localhost is the admin's explicit choice of a private target."""
        return ip_literal(self.host) is not None or self.host == "localhost"

    def matches(self, target: BaseURL) -> bool:
        if (target.scheme, target.port) != (self.scheme, self.port):
            return False
        if self.host.startswith("*."):
            if not target.host.endswith(self.host[1:]) or target.is_ip_literal:
                return False
        elif target.host != self.host:
            return False
        return target.path == self.path or target.path.startswith(self.path + "/")
