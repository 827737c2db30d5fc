"""Property tests for the override parser and resolver (issue 6): random headers and URLs.

Nothing but the documented errors escapes, every accepted target is on the allowlist, and the
URL the gateway would send to names the same scheme, host, port and path prefix that was checked.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from routing.baseurl import AllowEntry, BaseURL, InvalidBaseURL, parse_base_url
from routing.models import UpstreamRoute
from routing.resolver import ResolutionError, parse_override, resolve

DEFAULTS = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}
SCHEMES = ["http", "https", "HTTP", "HtTpS", "ftp", "file", "gopher", "javascript", ""]
HOSTS = [
    "allowed.example",
    "ALLOWED.example.",
    "api.allowed.example",
    "allowed.example.evil.example",
    "evilallowed.example",
    "localhost",
    "LocalHost.",
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "0.0.0.0",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[fe80::1%25eth0]",
    "169.254.169.254",
    "metadata.google.internal",
    "10.0.0.1",
    "192.168.0.1",
    "[fc00::1]",
    "allowed.example@evil.example",
    "evil.example#@allowed.example",
    "allowed.example\\@evil.example",
    "allowed.example%2f@evil.example",
    "xn--allwed-vxa.example",
    "allöwed.example",
    "",
]
PORTS = ["", ":", ":80", ":443", ":8443", ":0", ":65536", ":-1", ":８０", ":१२", ":80a"]
SEGMENTS = ["v1", "v1beta", "openai", "..", ".", "%2e%2e", "%2E.", "a b", "@", "#x", "?q", "\\"]
ENTRIES = [
    "https://allowed.example",
    "http://*.allowed.example",
    "https://allowed.example:8443/openai",
    "private:http://ollama.lan:11434",
    "http://127.0.0.1:11434",
    "http://localhost:11435",
    "https://[2001:db8::1]",
]


def _url(scheme: str, sep: str, host: str, port: str, segments: list[str], tail: str) -> str:
    return f"{scheme}{sep}{host}{port}" + "".join(f"/{s}" for s in segments) + tail


_segments = st.lists(st.one_of(st.sampled_from(SEGMENTS), st.text(max_size=6)), max_size=4)
_tails = st.sampled_from(["", "/", " ", "\t", "\n", "#frag", "?x=1", "/v1/"])
# Well-formed shapes most of the time, so the interesting cases get past the first checks.
plausible = st.builds(
    _url,
    st.sampled_from(["http", "https", "HTTPS"]),
    st.just("://"),
    st.sampled_from(HOSTS),
    st.sampled_from(PORTS),
    _segments,
    _tails,
)
wild = st.builds(
    _url,
    st.sampled_from(SCHEMES),
    st.sampled_from(["://", ":", ":///", "://\\", ""]),
    st.one_of(st.sampled_from(HOSTS), st.text(max_size=20)),
    st.sampled_from(PORTS),
    _segments,
    _tails,
)
urlish = plausible | wild
header_values = st.one_of(st.none(), urlish, st.text(max_size=60))
routes = st.lists(
    st.builds(
        lambda prefix, upstream, enabled: UpstreamRoute(
            model_prefix=prefix, upstream=upstream, enabled=enabled
        ),
        st.sampled_from(["*", "glm-", "claude-", ""]),
        st.sampled_from(["", "http://inference.lan:9000", "https://api.deepseek.com/v1"]),
        st.booleans(),
    ),
    max_size=3,
)
property_settings = settings(max_examples=400, deadline=None)


def _entries(raw: list[str]) -> list[AllowEntry]:
    entries = []
    for text in raw:
        try:
            entries.append(AllowEntry.parse(text))
        except InvalidBaseURL:
            continue
    return entries


def _assert_sent_where_checked(base: BaseURL) -> None:
    """httpx, which builds the real request, must read the base URL as the parser did."""
    url = httpx.URL(base.url + "/v1/chat/completions")
    assert (
        url.scheme,
        url.raw_host.decode(),
        url.port or {"http": 80, "https": 443}[url.scheme],
    ) == (
        base.scheme,
        base.host,
        base.port,
    )
    assert url.path == base.path + "/v1/chat/completions"


@property_settings
@given(urlish | st.text(max_size=80))
def test_parsing_a_base_url_raises_nothing_but_invalid_base_url(raw: str) -> None:
    try:
        base = parse_base_url(raw)
    except InvalidBaseURL:
        return
    assert base.scheme in ("http", "https")
    assert 0 < base.port < 65536
    assert base.host == base.host.lower() and not base.host.endswith(".")
    # Normalization removes one /v1, so only the origin is stable under a second parse.
    again = parse_base_url(base.url)
    assert (again.scheme, again.host, again.port) == (base.scheme, base.host, base.port)


@property_settings
@given(urlish)
def test_an_accepted_base_url_is_read_the_same_way_by_httpx(raw: str) -> None:
    try:
        base = parse_base_url(raw)
    except InvalidBaseURL:
        return
    _assert_sent_where_checked(base)


@property_settings
@given(st.one_of(urlish, st.text(max_size=60)), st.booleans())
def test_parsing_an_allow_entry_raises_nothing_but_invalid_base_url(
    raw: str, wildcard: bool
) -> None:
    text = raw.replace("://", "://*.", 1) if wildcard else raw
    try:
        entry = AllowEntry.parse(text)
    except InvalidBaseURL:
        return
    assert entry.scheme in ("http", "https")
    assert not entry.host.startswith("*.") or "://*." in text


@property_settings
@given(st.sampled_from(ENTRIES) | urlish, urlish)
def test_matching_an_entry_never_raises_and_keeps_scheme_port_and_path(
    entry_text: str, target_text: str
) -> None:
    try:
        entry, target = AllowEntry.parse(entry_text), parse_base_url(target_text)
    except InvalidBaseURL:
        return
    if entry.matches(target):
        assert (target.scheme, target.port) == (entry.scheme, entry.port)
        assert target.path == entry.path or target.path.startswith(entry.path + "/")
        assert target.host == entry.host or (
            entry.host.startswith("*.") and target.host.endswith(entry.host[1:])
        )


@property_settings
@given(header_values, header_values)
def test_the_override_headers_raise_only_400_or_403(first: str | None, second: str | None) -> None:
    try:
        parse_override(first, second)
    except ResolutionError as exc:
        assert exc.status in (400, 403)
        assert exc.message


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header_values,
    header_values,
    st.lists(st.sampled_from(ENTRIES) | urlish, max_size=4),
    routes,
    st.sampled_from(["openai", "anthropic", "gemini"]),
    st.sampled_from(["", "glm-4", "claude-x", "gpt-4o"]),
)
def test_every_accepted_override_target_is_on_the_allowlist(
    base_url: str | None,
    alias: str | None,
    raw_entries: list[str],
    route_list: list[UpstreamRoute],
    family: str,
    model: str,
) -> None:
    try:
        override = parse_override(base_url, alias)
    except ResolutionError:
        return
    assume(override is not None)
    allowed = _entries(raw_entries)
    try:
        resolution = resolve(
            model=model,
            family=family,
            routes=route_list,
            defaults=DEFAULTS,
            override=override,
            allowed=allowed,
        )
    except ResolutionError as exc:
        assert exc.status == 403
        return
    assert resolution.override and resolution.upstream == override
    on_route = any(
        r.enabled and r.upstream and parse_base_url(r.upstream) == override for r in route_list
    )
    matching = [entry for entry in allowed if entry.matches(override)]
    assert on_route or matching
    if resolution.check_addresses:
        # Only a client-chosen DNS name is resolved and checked; it came from a name entry.
        assert not override.is_ip_literal and override.host != "localhost"
    elif not on_route:
        assert matching[0].names_explicit_host
    _assert_sent_where_checked(override)


# --- regressions the properties found ------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://allowed.example:8443/openai/../admin",
        "https://allowed.example:8443/openai/..",
        "https://allowed.example:8443/openai/%2e%2E/admin",
        "https://allowed.example:8443/openai/x%2f..%2fadmin",
        "https://allowed.example:8443/openai/..\\admin",
        "https://allowed.example:8443/openai/./v1",
    ],
)
def test_a_dot_segment_cannot_leave_an_allowed_path_prefix(target: str) -> None:
    with pytest.raises(ResolutionError) as caught:
        parse_override(target, None)
    assert caught.value.status == 403
    assert "'.' or '..' segments" in caught.value.message


def test_a_wildcard_is_only_read_in_front_of_the_host() -> None:
    entry = AllowEntry.parse("https://allowed.example/p://*.example")
    assert entry.host == "allowed.example"
    assert not entry.matches(parse_base_url("https://evil.allowed.example/p://*.example"))


def test_a_private_wildcard_entry_may_have_space_after_the_prefix() -> None:
    entry = AllowEntry.parse("private: https://*.lan")
    assert (entry.host, entry.allow_private) == ("*.lan", True)


def test_port_zero_is_refused_instead_of_becoming_the_default_port() -> None:
    with pytest.raises(InvalidBaseURL, match="port must be between 1 and 65535"):
        parse_base_url("https://allowed.example:0")
