"""The pure resolver (SPEC §2–§3) over unsaved routes: no database, no settings."""

from __future__ import annotations

import pytest

from routing.baseurl import AllowEntry, parse_base_url
from routing.fallbacks import problem
from routing.models import UpstreamRoute
from routing.resolver import ResolutionError, fallbacks, match_route, parse_override, resolve

DEFAULTS = {
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}


def route(prefix: str, position: int = 0, **fields: object) -> UpstreamRoute:
    fields.setdefault("upstream", f"https://{prefix.strip('-*:') or 'any'}.example")
    return UpstreamRoute(model_prefix=prefix, position=position, **fields)


def run(model: str, routes: list[UpstreamRoute], family: str = "openai", **kwargs: object):
    return resolve(model=model, family=family, routes=routes, defaults=DEFAULTS, **kwargs)


def test_the_first_enabled_match_by_position_wins() -> None:
    routes = [route("gl", 2), route("glm-", 1), route("*", 3)]
    assert run("glm-4.6", routes).route is routes[1]


def test_a_disabled_route_is_skipped() -> None:
    routes = [route("glm-", 1, enabled=False), route("*", 2)]
    assert run("glm-4.6", routes).route is routes[1]


def test_prefixes_match_case_insensitively() -> None:
    routes = [route("Claude-", 0)]
    assert run("CLAUDE-sonnet-4", routes).label == "Claude-"


def test_star_matches_every_model_and_the_empty_model() -> None:
    routes = [route("*", 0)]
    assert run("anything", routes).route is routes[0]
    assert run("", routes).route is routes[0]


def test_the_empty_model_matches_only_a_star_route() -> None:
    routes = [route("glm-", 0)]
    assert run("", routes).label == "default"


def test_no_match_falls_back_to_the_family_default_with_passthrough() -> None:
    resolution = run("gpt-5", [route("glm-", 0, auth="env:OLLAMA_KEY")], family="anthropic")
    assert resolution.upstream.url == "https://api.anthropic.com"
    assert (resolution.auth, resolution.label, resolution.route) == ("passthrough", "default", None)


def test_a_blank_upstream_uses_the_default_target_of_the_route_protocol() -> None:
    routes = [route("claude-", 0, upstream="", protocol="anthropic")]
    assert run("claude-x", routes, family="openai").upstream.url == "https://api.anthropic.com"


def test_the_route_supplies_auth_and_protocol() -> None:
    routes = [route("glm-", 0, auth="env:OLLAMA_API_KEY", protocol="openai")]
    resolution = run("glm-4.6", routes, family="anthropic")
    assert (resolution.auth, resolution.protocol) == ("env:OLLAMA_API_KEY", "openai")


def test_strip_prefix_removes_the_matched_prefix_as_typed() -> None:
    routes = [route("anthropic:", 0, strip_prefix=True)]
    assert run("Anthropic:claude-x", routes).model == "claude-x"


def test_without_strip_prefix_the_model_is_forwarded_unchanged() -> None:
    assert run("glm-4.6", [route("glm-", 0)]).model == "glm-4.6"


def test_strip_prefix_on_a_star_route_changes_nothing() -> None:
    assert run("gpt-5", [route("*", 0, strip_prefix=True)]).model == "gpt-5"


def test_ties_in_position_are_broken_by_primary_key() -> None:
    first, second = route("g", 5, pk=2), route("gl", 5, pk=1)
    assert match_route("glm", [first, second]) is second


@pytest.mark.parametrize(
    "raw",
    [
        "https://api.deepseek.com",
        "https://api.deepseek.com/",
        "https://api.deepseek.com/v1",
        "https://api.deepseek.com/v1/",
        "  https://API.DeepSeek.com/v1  ",
        "https://api.deepseek.com./v1beta",
        "https://api.deepseek.com:443",
    ],
)
def test_base_urls_normalize_to_one_form(raw: str) -> None:
    assert parse_base_url(raw).url == "https://api.deepseek.com"


def test_normalization_keeps_a_path_prefix_and_a_non_default_port() -> None:
    assert parse_base_url("http://127.0.0.1:8080/openai/v1/").url == "http://127.0.0.1:8080/openai"


def test_an_override_goes_to_its_target_with_passthrough_even_on_an_env_route() -> None:
    routes = [route("claude-", 0, auth="env:ANTHROPIC_KEY", protocol="anthropic")]
    allowed = [AllowEntry.parse("http://127.0.0.1:9000")]
    override = parse_override("http://127.0.0.1:9000/v1", None)
    resolution = run("claude-x", routes, family="anthropic", override=override, allowed=allowed)
    assert resolution.upstream.url == "http://127.0.0.1:9000"
    assert (resolution.auth, resolution.label, resolution.override) == (
        "passthrough",
        "override",
        True,
    )
    assert resolution.route is routes[0]


def test_an_override_equal_to_a_route_upstream_is_allowed_without_an_entry() -> None:
    routes = [route("glm-", 0, upstream="https://ollama.com", auth="env:OLLAMA")]
    resolution = run("gpt-5", routes, override=parse_override("https://ollama.com/v1/", None))
    assert resolution.upstream.url == "https://ollama.com"
    assert resolution.auth == "passthrough"
    assert not resolution.check_addresses


def test_an_override_to_a_disabled_route_upstream_is_refused() -> None:
    routes = [route("glm-", 0, upstream="https://ollama.com", enabled=False)]
    with pytest.raises(ResolutionError) as refused:
        run("glm-4", routes, override=parse_override("https://ollama.com", None))
    assert refused.value.status == 403


def test_an_override_not_on_the_allowlist_is_refused_with_403() -> None:
    with pytest.raises(ResolutionError) as refused:
        run("gpt-5", [], override=parse_override("https://evil.example", None))
    assert refused.value.status == 403


def test_an_allowed_dns_name_is_marked_for_address_checks() -> None:
    allowed = [AllowEntry.parse("https://*.example.com")]
    resolution = run(
        "m", [], override=parse_override("https://api.example.com", None), allowed=allowed
    )
    assert resolution.check_addresses and not resolution.allow_private


def test_an_entry_that_names_an_ip_literal_needs_no_address_checks() -> None:
    allowed = [AllowEntry.parse("http://10.0.0.5:11434")]
    resolution = run(
        "m", [], override=parse_override("http://10.0.0.5:11434", None), allowed=allowed
    )
    assert not resolution.check_addresses and resolution.allow_private


def test_a_private_entry_permits_private_answers() -> None:
    allowed = [AllowEntry.parse("private:https://ollama.internal.example")]
    override = parse_override("https://ollama.internal.example", None)
    resolution = run("m", [], override=override, allowed=allowed)
    assert resolution.check_addresses and resolution.allow_private


def test_an_entry_marked_for_injection_injects() -> None:
    allowed = [AllowEntry.parse("https://api.deepseek.com", auth="env:DEEPSEEK_KEY")]
    override = parse_override(None, "https://api.deepseek.com/v1")
    assert run("m", [], override=override, allowed=allowed).auth == "env:DEEPSEEK_KEY"


def test_both_override_headers_agreeing_after_normalization_are_accepted() -> None:
    target = parse_override("http://127.0.0.1:9000/v1", "http://127.0.0.1:9000/")
    assert target == parse_base_url("http://127.0.0.1:9000")


def test_both_override_headers_disagreeing_is_a_400() -> None:
    with pytest.raises(ResolutionError) as refused:
        parse_override("http://127.0.0.1:9000", "http://127.0.0.1:9001")
    assert refused.value.status == 400


@pytest.mark.parametrize(
    "raw",
    [
        "ftp://example.com",
        "http://user:pw@example.com",
        "http://allowed.example@evil.example",
        "http://evil.example#@allowed.example",
        "http://example.com/?q=1",
        "http://",
        "example.com",
        "http://127.1",
        "http://2130706433",
        "http://0x7f000001",
        "http://exa mple.com",
    ],
)
def test_malformed_override_targets_are_refused_with_403(raw: str) -> None:
    with pytest.raises(ResolutionError) as refused:
        parse_override(raw, None)
    assert refused.value.status == 403


@pytest.mark.parametrize(
    ("entry", "target", "allowed"),
    [
        ("https://api.example.com", "https://API.example.com.", True),
        ("https://api.example.com", "http://api.example.com", False),
        ("https://api.example.com", "https://api.example.com:8443", False),
        ("https://api.example.com:443", "https://api.example.com", True),
        ("https://*.example.com", "https://a.b.example.com", True),
        ("https://*.example.com", "https://example.com", False),
        ("https://*.example.com", "https://badexample.com", False),
        ("https://api.example.com/team", "https://api.example.com/team/v1", True),
        ("https://api.example.com/team", "https://api.example.com/teammate", False),
        ("https://api.example.com/team", "https://api.example.com", False),
        ("http://[::1]:8000", "http://[0:0::1]:8000/v1", True),
    ],
)
def test_allow_entries_match_scheme_host_port_and_path_prefix(
    entry: str, target: str, allowed: bool
) -> None:
    assert AllowEntry.parse(entry).matches(parse_base_url(target)) is allowed


# Fallbacks


def fallback_chain(model: str, routes: list[UpstreamRoute], **kwargs: object) -> list:
    primary = run(model, routes, **kwargs)
    return fallbacks(primary, model=model, routes=routes, defaults=DEFAULTS)


def test_a_fallback_brings_its_own_upstream_protocol_and_auth() -> None:
    routes = [
        route("gpt-", 0, auth="env:OPENAI_KEY", fallback="azure:"),
        route("azure:", 1, protocol="openai", auth="env:AZURE_KEY", strip_prefix=True),
    ]

    [fallback] = fallback_chain("gpt-4o", routes)

    assert fallback.route is routes[1] and fallback.label == "azure:"
    assert (fallback.upstream.url, fallback.auth) == ("https://azure.example", "env:AZURE_KEY")
    # The model does not carry the fallback's prefix: it goes as the primary forwards it.
    assert fallback.model == "gpt-4o"


def test_a_fallback_whose_prefix_matches_strips_it_as_it_would_for_itself() -> None:
    routes = [
        route("*", 0, fallback="anthropic:"),
        route("anthropic:", 1, protocol="anthropic", upstream="", strip_prefix=True),
    ]

    [fallback] = fallback_chain("anthropic:claude-x", routes)

    assert fallback.model == "claude-x"
    assert fallback.upstream.url == "https://api.anthropic.com"


def test_a_fallback_chain_is_followed_in_order_and_a_cycle_ends_it() -> None:
    routes = [
        route("a-", 0, fallback="b-"),
        route("b-", 1, fallback="c-"),
        route("c-", 2, fallback="a-"),
    ]

    assert [r.label for r in fallback_chain("a-1", routes)] == ["b-", "c-"]


def test_a_disabled_or_missing_fallback_is_no_fallback() -> None:
    routes = [route("a-", 0, fallback="b-"), route("b-", 1, enabled=False)]

    assert fallback_chain("a-1", routes) == []
    assert fallback_chain("a-1", [route("a-", 0, fallback="zzz")]) == []


def test_a_client_chosen_target_and_the_default_target_have_no_fallback() -> None:
    routes = [route("a-", 0, fallback="b-"), route("b-", 1)]
    override = parse_base_url("https://a.example")

    assert fallback_chain("a-1", routes, override=override) == []
    assert fallback_chain("zzz", routes) == []


def test_fallback_problems_name_a_missing_target_and_a_cycle() -> None:
    a, b = route("a-", 0, fallback="b-"), route("b-", 1, fallback="A-")

    assert problem(route("x-", 0, fallback="nope"), [a, b]).startswith("no other enabled route")
    assert problem(a, [a, b]) == "fallbacks form a cycle: a- → b- → a-"
    assert problem(route("c-", 2), [a, b]) == ""
