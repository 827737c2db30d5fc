"""The routing admin: route and allowed-upstream editing, shadowing, and the which-route box."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from routing.models import AllowedUpstream, UpstreamRoute

pytestmark = pytest.mark.django_db

ROUTES_URL = reverse("admin:routing_upstreamroute_changelist")
ADD_ROUTE_URL = reverse("admin:routing_upstreamroute_add")
ALLOWED_URL = reverse("admin:routing_allowedupstream_changelist")
ADD_ALLOWED_URL = reverse("admin:routing_allowedupstream_add")


def make_route(prefix: str, position: int = 0, **fields: Any) -> UpstreamRoute:
    return UpstreamRoute.objects.create(model_prefix=prefix, position=position, **fields)


def route_form(**overrides: Any) -> dict[str, str]:
    """POST data for the route form; a boolean field is sent only when it is checked."""
    data: dict[str, Any] = {
        "position": 3,
        "model_prefix": "glm-",
        "enabled": True,
        "upstream": "https://ollama.com",
        "protocol": "openai",
        "auth": "env:OLLAMA_API_KEY",
        "strip_prefix": False,
        "compression": "aggressive",
        "cache_ttl": 300,
        "connect_timeout": 5,
        "read_timeout": 120,
        "idle_timeout": 30,
        "retries": 1,
        "fallback": "",
        "notes": "Ollama Cloud",
        **overrides,
    }
    return {
        key: ("on" if value is True else str(value))
        for key, value in data.items()
        if value is not False
    }


def form_errors(response: Any) -> dict[str, list[str]]:
    return response.context["adminform"].form.errors


def which_box(client: Client, model: str, family: str = "openai") -> str:
    """The which-route result as plain text, one 'term: value' line per row."""
    response = client.get(ROUTES_URL, {"which-model": model, "which-family": family})
    assert response.status_code == 200
    html = response.content.decode()
    match = re.search(r'<dl id="which-route-result">(.*?)</dl>', html, re.S)
    assert match, "the which-route box shows no result"
    rows = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", match.group(1), re.S)
    return "\n".join(f"{term}: {re.sub(r'<[^>]+>', '', value)}" for term, value in rows)


def shadow_cells(client: Client) -> list[tuple[str, str]]:
    """(prefix, text of the shadowed column) for each listed route, in list order."""
    response = client.get(ROUTES_URL)
    assert response.status_code == 200
    body = response.content.decode().split("<tbody>")[1]
    prefixes = re.findall(r'<th class="field-model_prefix"><a [^>]*>(.*?)</a>', body)
    cells = re.findall(r'<td class="field-shadowed">(.*?)</td>', body, re.S)
    return list(zip(prefixes, [re.sub(r"<[^>]+>", "", cell) for cell in cells], strict=True))


# Adding, editing, reordering, disabling


def test_it_adds_a_route_with_every_field(admin_client: Client) -> None:
    response = admin_client.post(ADD_ROUTE_URL, route_form(strip_prefix=True))

    assert response.status_code == 302
    route = UpstreamRoute.objects.get()
    assert (route.position, route.model_prefix, route.enabled) == (3, "glm-", True)
    assert (route.upstream, route.protocol, route.auth) == (
        "https://ollama.com",
        "openai",
        "env:OLLAMA_API_KEY",
    )
    assert (route.strip_prefix, route.compression, route.cache_ttl) == (True, "aggressive", 300)
    assert (route.connect_timeout, route.read_timeout, route.notes) == (5, 120, "Ollama Cloud")
    assert (route.idle_timeout, route.retries, route.fallback) == (30, 1, "")


def test_it_edits_a_route(admin_client: Client) -> None:
    route = make_route("glm-", upstream="https://ollama.com")
    url = reverse("admin:routing_upstreamroute_change", args=[route.pk])

    response = admin_client.post(
        url, route_form(upstream="https://api.z.ai/v1", auth="passthrough", connect_timeout="")
    )

    assert response.status_code == 302
    route.refresh_from_db()
    assert (route.upstream, route.auth, route.connect_timeout) == (
        "https://api.z.ai/v1",
        "passthrough",
        None,
    )


def test_it_reorders_routes_from_the_changelist(admin_client: Client) -> None:
    first, second = make_route("glm-", 0), make_route("claude-", 1)
    data = {
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "2",
        "form-0-id": str(first.pk),
        "form-0-position": "5",
        "form-1-id": str(second.pk),
        "form-1-position": "2",
        "_save": "Save",
    }

    response = admin_client.post(ROUTES_URL, data)

    assert response.status_code == 302
    assert list(UpstreamRoute.objects.values_list("model_prefix", "position")) == [
        ("claude-", 2),
        ("glm-", 5),
    ]


def test_the_disable_action_disables_only_the_selected_routes(admin_client: Client) -> None:
    chosen, other = make_route("glm-", 0), make_route("claude-", 1)
    data = {"action": "disable_selected", "_selected_action": [chosen.pk]}

    response = admin_client.post(ROUTES_URL, data, follow=True)

    assert response.status_code == 200
    assert "Disabled 1 of 1 selected." in response.content.decode()
    assert UpstreamRoute.objects.get(pk=chosen.pk).enabled is False
    assert UpstreamRoute.objects.get(pk=other.pk).enabled is True


def test_the_enable_action_enables_the_selected_routes(admin_client: Client) -> None:
    off = [make_route("glm-", 0, enabled=False), make_route("claude-", 1, enabled=False)]
    data = {"action": "enable_selected", "_selected_action": [route.pk for route in off]}

    response = admin_client.post(ROUTES_URL, data)

    assert response.status_code == 302
    assert set(UpstreamRoute.objects.values_list("enabled", flat=True)) == {True}


# Form errors


@pytest.mark.parametrize(
    ("upstream", "reason"),
    [
        ("ftp://x", "must start with http:// or https://"),
        ("https://", "must name a host"),
        ("http://user:pw@h", "must not contain a user name or password"),
    ],
)
def test_a_bad_upstream_is_a_form_error_and_nothing_is_saved(
    admin_client: Client, upstream: str, reason: str
) -> None:
    response = admin_client.post(ADD_ROUTE_URL, route_form(upstream=upstream))

    assert response.status_code == 200
    [message] = form_errors(response)["upstream"]
    assert message.startswith("Enter an http(s) base URL with a host") and reason in message
    assert "Please correct the error below." in response.content.decode()
    assert not UpstreamRoute.objects.exists()


@pytest.mark.parametrize("auth", ["env:1BAD", "token", "env:", "env:HAS SPACE"])
def test_a_bad_auth_is_a_form_error_and_nothing_is_saved(admin_client: Client, auth: str) -> None:
    response = admin_client.post(ADD_ROUTE_URL, route_form(auth=auth))

    assert response.status_code == 200
    assert form_errors(response)["auth"] == [
        "Enter 'passthrough' or 'env:' followed by an environment variable name, "
        "for example env:OPENAI_API_KEY."
    ]
    assert not UpstreamRoute.objects.exists()


def test_a_timeout_that_is_not_positive_is_a_form_error(admin_client: Client) -> None:
    response = admin_client.post(ADD_ROUTE_URL, route_form(read_timeout=0))

    assert response.status_code == 200
    assert "greater than 0" in form_errors(response)["read_timeout"][0]
    assert not UpstreamRoute.objects.exists()


def test_the_route_form_shows_the_model_help_texts(admin_client: Client) -> None:
    response = admin_client.get(ADD_ROUTE_URL)

    assert response.status_code == 200
    assert "passthrough forwards the client's key; env:OLLAMA_API_KEY injects it." in (
        response.content.decode()
    )


# The changelist and its shadowed column


def test_the_changelist_lets_long_upstreams_wrap_at_dots_and_slashes(admin_client: Client) -> None:
    make_route("gemini-", 0, upstream="https://generativelanguage.googleapis.com")

    html = admin_client.get(ROUTES_URL).content.decode()

    assert "https:<wbr>/<wbr>/<wbr>generativelanguage.<wbr>googleapis.<wbr>com" in html


def test_a_key_variable_unset_in_the_environment_is_flagged_in_the_list(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    monkeypatch.setenv("HR_SET_KEY", "sk-the-secret-value")
    make_route("glm-", 0, auth="env:OLLAMA_API_KEY")
    make_route("gpt-", 1, auth="env:HR_SET_KEY")
    make_route("*", 2)

    html = admin_client.get(ROUTES_URL).content.decode()

    cells = re.findall(r'<td class="field-auth_state">(.*?)</td>', html)
    assert [re.sub(r"<[^>]+>", "", cell) for cell in cells] == [
        "env:OLLAMA_API_KEY unset",
        "env:HR_SET_KEY",
        "passthrough",
    ]
    assert "sk-the-secret-value" not in html


def test_a_blank_key_variable_counts_as_unset(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "  ")
    make_route("glm-", 0, auth="env:OLLAMA_API_KEY")

    assert 'class="env-unset"' in admin_client.get(ROUTES_URL).content.decode()


def test_the_route_form_says_whether_its_key_variable_is_set_never_its_value(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HR_SET_KEY", "sk-the-secret-value")
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    unset = make_route("glm-", 0, auth="env:OLLAMA_API_KEY")
    is_set = make_route("gpt-", 1, auth="env:HR_SET_KEY")
    change = "admin:routing_upstreamroute_change"

    unset_page = admin_client.get(reverse(change, args=[unset.pk])).content.decode()
    set_page = admin_client.get(reverse(change, args=[is_set.pk])).content.decode()

    assert "OLLAMA_API_KEY is not set in the server&#x27;s environment" in unset_page
    assert "HR_SET_KEY is set in the server&#x27;s environment" in set_page
    assert "sk-the-secret-value" not in set_page


def test_saving_a_route_whose_key_variable_is_unset_warns(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)

    response = admin_client.post(ADD_ROUTE_URL, route_form(), follow=True)

    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert warnings == [
        "OLLAMA_API_KEY is not set in the server's environment: requests on this route are "
        "refused (502) until it is."
    ]


def test_the_changelist_shows_each_route_with_the_default_named_when_upstream_is_blank(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_route("claude-", 0, protocol="anthropic", auth="env:ANTHROPIC_API_KEY", cache_ttl=60)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")

    response = admin_client.get(ROUTES_URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert '<td class="field-upstream_or_default">default of anthropic</td>' in html
    assert '<td class="field-auth_state">env:<wbr>ANTHROPIC_<wbr>API_<wbr>KEY</td>' in html
    assert '<td class="field-cache_ttl">60</td>' in html
    assert 'name="form-0-position"' in html


def test_a_route_under_an_earlier_broader_prefix_is_shadowed_by_it(admin_client: Client) -> None:
    make_route("GLM-", 0)
    make_route("glm-4.6", 1)

    assert shadow_cells(admin_client) == [("GLM-", "no"), ("glm-4.6", "by GLM- at position 0")]


def test_a_star_route_shadows_every_later_route(admin_client: Client) -> None:
    make_route("*", 0)
    make_route("claude-", 1)
    make_route("*", 2)

    assert shadow_cells(admin_client) == [
        ("*", "no"),
        ("claude-", "by * at position 0"),
        ("*", "by * at position 0"),
    ]


def test_a_later_star_route_is_not_shadowed_by_a_prefix_route(admin_client: Client) -> None:
    make_route("glm-", 0)
    make_route("*", 1)

    assert shadow_cells(admin_client) == [("glm-", "no"), ("*", "no")]


def test_an_earlier_narrower_prefix_does_not_shadow_a_broader_one(admin_client: Client) -> None:
    make_route("glm-4", 0)
    make_route("glm-", 1)

    assert shadow_cells(admin_client) == [("glm-4", "no"), ("glm-", "no")]


def test_a_disabled_earlier_route_shadows_nothing(admin_client: Client) -> None:
    make_route("glm-", 0, enabled=False)
    make_route("glm-4.6", 1)

    assert shadow_cells(admin_client) == [("glm-", "no"), ("glm-4.6", "no")]


def test_routes_at_the_same_position_are_ordered_by_id_for_shadowing(
    admin_client: Client,
) -> None:
    older = make_route("claude-", 0)
    make_route("claude-3", 0)

    cells = shadow_cells(admin_client)

    assert cells == [("claude-", "no"), ("claude-3", "by claude- at position 0")]
    link = reverse("admin:routing_upstreamroute_change", args=[older.pk])
    assert f'by <a href="{link}">claude-</a>' in admin_client.get(ROUTES_URL).content.decode()


def test_shadowing_is_judged_against_routes_filtered_out_of_the_list(
    admin_client: Client,
) -> None:
    make_route("*", 0)
    make_route("glm-", 1)

    response = admin_client.get(ROUTES_URL, {"q": "glm"})

    [route] = response.context["cl"].result_list
    assert route.shadowed_by.model_prefix == "*"


# The which-route box


def test_the_box_shows_the_matched_route_upstream_auth_and_model(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-ollama-secret-value")
    make_route("glm-", 0, upstream="https://ollama.com/v1/", auth="env:OLLAMA_API_KEY")
    make_route("*", 1)

    box = which_box(admin_client, "GLM-4.6")

    assert box == (
        "Model: GLM-4.6 (openai)\nRoute: glm- at position 0\nUpstream: https://ollama.com\n"
        "Protocol: openai\nAuth: env:OLLAMA_API_KEY\nForwarded model: GLM-4.6"
    )


def test_the_box_never_shows_the_value_of_an_env_key(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "sk-ollama-secret-value")
    make_route("glm-", 0, upstream="https://ollama.com", auth="env:OLLAMA_API_KEY")

    response = admin_client.get(ROUTES_URL, {"which-model": "glm-4.6", "which-family": "openai"})

    assert response.status_code == 200
    assert "sk-ollama-secret-value" not in response.content.decode()


def test_the_box_shows_the_model_forwarded_after_strip_prefix(admin_client: Client) -> None:
    make_route(
        "anthropic:",
        0,
        upstream="https://api.anthropic.com",
        protocol="anthropic",
        strip_prefix=True,
    )

    box = which_box(admin_client, "anthropic:claude-sonnet-4", "anthropic")

    assert "Route: anthropic: at position 0" in box
    assert "Protocol: anthropic\nAuth: passthrough" in box
    assert box.endswith("Forwarded model: claude-sonnet-4")


def test_the_box_shows_the_default_target_of_the_family_when_nothing_matches(
    admin_client: Client, settings: Any
) -> None:
    settings.ANTHROPIC_TARGET_API_URL = "https://anthropic.internal.example/v1"
    make_route("glm-", 0, upstream="https://ollama.com")

    box = which_box(admin_client, "claude-opus-4", "anthropic")

    assert box == (
        "Model: claude-opus-4 (anthropic)\nRoute: default (no enabled route matches)\n"
        "Upstream: https://anthropic.internal.example\nProtocol: anthropic\n"
        "Auth: passthrough\nForwarded model: claude-opus-4"
    )


def test_the_box_uses_the_gemini_default_for_the_gemini_family(admin_client: Client) -> None:
    box = which_box(admin_client, "gemini-2.5-pro", "gemini")

    assert "Upstream: https://generativelanguage.googleapis.com\nProtocol: gemini" in box


def test_the_box_uses_the_routes_protocol_default_for_a_blank_upstream(
    admin_client: Client,
) -> None:
    make_route("claude-", 0, protocol="anthropic", auth="env:ANTHROPIC_API_KEY")

    box = which_box(admin_client, "claude-haiku", "openai")

    assert "Upstream: https://api.anthropic.com\nProtocol: anthropic" in box
    assert "Auth: env:ANTHROPIC_API_KEY" in box


def test_the_box_skips_disabled_routes(admin_client: Client) -> None:
    make_route("glm-", 0, upstream="https://ollama.com", enabled=False)
    make_route("glm-", 1, upstream="https://api.z.ai")

    box = which_box(admin_client, "glm-4.6")

    assert "Route: glm- at position 1\nUpstream: https://api.z.ai" in box


def test_the_box_resolves_a_blank_model_to_the_star_route_only(admin_client: Client) -> None:
    make_route("glm-", 0, upstream="https://ollama.com")
    make_route("*", 1, upstream="https://openrouter.ai/api")

    box = which_box(admin_client, "")

    assert box.startswith("Model: (none) (openai)\nRoute: * at position 1")
    assert "Upstream: https://openrouter.ai/api" in box


def test_the_box_reports_an_unusable_default_target_instead_of_failing(
    admin_client: Client, settings: Any
) -> None:
    settings.GEMINI_TARGET_API_URL = "generativelanguage.googleapis.com"

    response = admin_client.get(ROUTES_URL, {"which-model": "gemini-3", "which-family": "gemini"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "a route or default target is not usable: the URL must start with http" in html
    assert 'id="which-route-result"' not in html


def test_the_box_rejects_an_unknown_family_without_a_result(admin_client: Client) -> None:
    response = admin_client.get(ROUTES_URL, {"which-model": "gpt-5", "which-family": "cohere"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Select a valid choice. cohere is not one of the available choices." in html
    assert 'id="which-route-result"' not in html
    assert response.context["which"] is None


def test_the_box_keeps_the_changelist_filters_working(admin_client: Client) -> None:
    make_route("glm-", 0)
    make_route("claude-", 1, enabled=False)

    response = admin_client.get(
        ROUTES_URL, {"which-model": "glm-5", "which-family": "openai", "enabled__exact": "1"}
    )

    assert response.status_code == 200
    assert [r.model_prefix for r in response.context["cl"].result_list] == ["glm-"]
    assert response.context["which"].resolution.label == "glm-"


def test_the_changelist_without_a_question_shows_an_empty_box(admin_client: Client) -> None:
    response = admin_client.get(ROUTES_URL)

    html = response.content.decode()
    assert 'name="which-model"' in html and 'name="which-family"' in html
    assert 'id="which-route-result"' not in html


# Allowed upstreams


def test_it_adds_an_allowed_upstream(admin_client: Client) -> None:
    data = {
        "url": "https://*.example.com/v1",
        "allow_private": "on",
        "auth": "passthrough",
        "enabled": "on",
        "notes": "team sandbox",
    }

    response = admin_client.post(ADD_ALLOWED_URL, data)

    assert response.status_code == 302
    entry = AllowedUpstream.objects.get()
    assert (entry.url, entry.allow_private, entry.auth, entry.enabled, entry.notes) == (
        "https://*.example.com/v1",
        True,
        "passthrough",
        True,
        "team sandbox",
    )


@pytest.mark.parametrize(
    ("field", "value"), [("url", "ftp://x"), ("url", "http://u:p@h"), ("auth", "env:1BAD")]
)
def test_a_bad_allowed_upstream_is_a_form_error(
    admin_client: Client, field: str, value: str
) -> None:
    data = {"url": "https://api.deepseek.com", "auth": "passthrough", "enabled": "on"}

    response = admin_client.post(ADD_ALLOWED_URL, {**data, field: value})

    assert response.status_code == 200
    assert form_errors(response)[field]
    assert not AllowedUpstream.objects.exists()


def test_the_allowed_upstream_form_shows_the_model_help_texts(admin_client: Client) -> None:
    response = admin_client.get(ADD_ALLOWED_URL)

    html = response.content.decode()
    assert "Allowed override base, e.g. https://api.deepseek.com" in html
    assert "Allow a DNS name that resolves to a private address" in html


def test_the_allowed_upstream_list_shows_every_column(admin_client: Client) -> None:
    AllowedUpstream.objects.create(
        url="http://10.0.0.5:11434", allow_private=True, auth="env:LAN_KEY", notes="lab box"
    )

    html = admin_client.get(ALLOWED_URL).content.decode()

    for cell in [
        '<th class="field-url"><a href="',
        '<td class="field-auth">env:LAN_KEY</td>',
        '<td class="field-short_notes">lab box</td>',
    ]:
        assert cell in html
    assert html.count('alt="True"') == 2  # allow_private and enabled


def test_the_disable_action_works_on_allowed_upstreams(admin_client: Client) -> None:
    entry = AllowedUpstream.objects.create(url="https://api.deepseek.com")

    response = admin_client.post(
        ALLOWED_URL, {"action": "disable_selected", "_selected_action": [entry.pk]}
    )

    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.enabled is False


def test_the_admin_requires_a_staff_login(client: Client) -> None:
    response = client.get(ROUTES_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# Fallbacks


def test_a_fallback_naming_an_enabled_route_is_saved(admin_client: Client) -> None:
    make_route("claude-", 0, protocol="anthropic")

    response = admin_client.post(ADD_ROUTE_URL, route_form(fallback="CLAUDE-"))

    assert response.status_code == 302
    assert UpstreamRoute.objects.get(model_prefix="glm-").fallback == "CLAUDE-"


@pytest.mark.parametrize("enabled", [False, None])
def test_a_fallback_naming_no_enabled_route_is_a_form_error(
    admin_client: Client, enabled: bool | None
) -> None:
    if enabled is not None:
        make_route("claude-", 0, enabled=enabled)

    response = admin_client.post(ADD_ROUTE_URL, route_form(fallback="claude-"))

    assert response.status_code == 200
    [message] = form_errors(response)["fallback"]
    assert message == "no other enabled route has the model prefix 'claude-'"
    assert not UpstreamRoute.objects.filter(model_prefix="glm-").exists()


def test_a_route_cannot_fall_back_to_itself(admin_client: Client) -> None:
    response = admin_client.post(ADD_ROUTE_URL, route_form(fallback="glm-"))

    assert response.status_code == 200
    assert form_errors(response)["fallback"] == [
        "no other enabled route has the model prefix 'glm-'"
    ]


def test_fallbacks_that_form_a_cycle_are_a_form_error(admin_client: Client) -> None:
    make_route("claude-", 0, fallback="gpt-")
    gpt = make_route("gpt-", 1, fallback="")
    glm = make_route("glm-", 2, fallback="claude-")
    url = reverse("admin:routing_upstreamroute_change", args=[gpt.pk])

    response = admin_client.post(url, route_form(model_prefix="gpt-", fallback="glm-"))

    assert response.status_code == 200
    [message] = form_errors(response)["fallback"]
    assert message == "fallbacks form a cycle: gpt- → glm- → claude- → gpt-"
    gpt.refresh_from_db()
    glm.refresh_from_db()
    assert (gpt.fallback, glm.fallback) == ("", "claude-")
