"""Admin for routes and allowed override targets (SPEC §2–§3).

The route changelist marks shadowed routes and answers "which route serves model …?" with the
same resolver the gateway uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from routing import fallbacks
from routing.baseurl import InvalidBaseURL
from routing.families import Family, default_targets
from routing.models import AllowedUpstream, UpstreamRoute
from routing.resolver import Resolution, resolve

WHICH_PREFIX = "which"
# How an unset key variable is flagged; the variable's value is never shown, only whether it is set.
UNSET = '<strong class="env-unset" style="color: var(--error-fg)">{}</strong>'


def breakable(text: str) -> SafeString:
    """Text that may wrap after a dot, slash, colon or underscore: long URLs and variable names
    then break where a reader expects, not in the middle of a word."""
    escaped = str(escape(text))
    for mark in "./:_":
        escaped = escaped.replace(mark, mark + "<wbr>")
    return mark_safe(escaped)  # noqa: S308 - escaped above; only <wbr> is added


def key_variable(auth: str) -> tuple[str, bool] | None:
    """For `env:VAR` auth, the variable's name and whether this server's environment sets it
    (to something other than blanks, as the gateway reads it); None for passthrough."""
    if not auth.startswith("env:"):
        return None
    name = auth.removeprefix("env:")
    return name, bool(os.environ.get(name, "").strip())


# The models whose admin has the enable and disable actions.
Switchable = TypeVar("Switchable", UpstreamRoute, AllowedUpstream)


def shadowing_route(route: UpstreamRoute, earlier: Sequence[UpstreamRoute]) -> UpstreamRoute | None:
    """The first earlier enabled route that matches every model this route matches.

    A route covers all of another's models exactly when it matches the other's prefix taken as a
    model name: `*` matches everything, and otherwise the prefixes nest case-insensitively.
    """
    return next(
        (other for other in earlier if other.enabled and other.matches(route.model_prefix)), None
    )


def mark_shadowed(routes: Iterable[UpstreamRoute]) -> None:
    """Set `shadowed_by` on each route, judged against the whole table in evaluation order."""
    table = list(UpstreamRoute.objects.order_by("position", "id"))
    for route in routes:
        key = (route.position, route.pk)
        route.shadowed_by = shadowing_route(route, [r for r in table if (r.position, r.pk) < key])


class RouteChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        mark_shadowed(self.result_list)


class WhichRouteForm(forms.Form):
    model = forms.CharField(
        required=False,
        max_length=500,
        help_text="Leave blank for a request without a model, such as GET /v1/models.",
    )
    family = forms.ChoiceField(choices=Family.choices, initial=Family.OPENAI)


@dataclass(frozen=True)
class WhichRoute:
    model: str
    family: str
    resolution: Resolution | None
    error: str = ""


def which_route(model: str, family: str) -> WhichRoute:
    """Resolve a model as the gateway would for a request without an override header."""
    routes = list(UpstreamRoute.objects.order_by("position", "id"))
    try:
        resolution = resolve(model=model, family=family, routes=routes, defaults=default_targets())
    except InvalidBaseURL as exc:
        return WhichRoute(model, family, None, f"a route or default target is not usable: {exc}")
    return WhichRoute(model, family, resolution)


def take_params(request: HttpRequest, prefix: str) -> dict[str, str]:
    """Remove the query parameters starting with prefix, which the changelist would take for
    unknown filters, and return them."""
    taken = {key: value for key, value in request.GET.dict().items() if key.startswith(prefix)}
    if taken:
        remaining = request.GET.copy()
        for key in taken:
            del remaining[key]
        # The stubs type request.GET as immutable; the changelist only reads it.
        request.GET = remaining  # type: ignore[assignment]
    return taken


def set_enabled(
    modeladmin: admin.ModelAdmin[Switchable],
    request: HttpRequest,
    queryset: QuerySet[Switchable],
    enabled: bool,
) -> None:
    changed = 0
    # Saving row by row (not queryset.update) sends the signals that refresh this worker's route
    # table at once, and records each change in the admin history.
    for obj in queryset:
        if obj.enabled != enabled:
            obj.enabled = enabled
            obj.save()
            modeladmin.log_change(request, obj, [{"changed": {"fields": ["enabled"]}}])
            changed += 1
    verb = "Enabled" if enabled else "Disabled"
    modeladmin.message_user(request, f"{verb} {changed} of {queryset.count()} selected.")


@admin.action(description="Enable selected %(verbose_name_plural)s")
def enable_selected(
    modeladmin: admin.ModelAdmin[Switchable], request: HttpRequest, queryset: QuerySet[Switchable]
) -> None:
    set_enabled(modeladmin, request, queryset, True)


@admin.action(description="Disable selected %(verbose_name_plural)s")
def disable_selected(
    modeladmin: admin.ModelAdmin[Switchable], request: HttpRequest, queryset: QuerySet[Switchable]
) -> None:
    set_enabled(modeladmin, request, queryset, False)


def positive_or_blank(value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise forms.ValidationError(
            "Enter a number of seconds greater than 0, or leave it blank for the gateway default."
        )
    return value


class UpstreamRouteForm(forms.ModelForm[UpstreamRoute]):
    class Meta:
        model = UpstreamRoute
        fields = [
            "position",
            "model_prefix",
            "enabled",
            "upstream",
            "protocol",
            "auth",
            "strip_prefix",
            "compression",
            "compression_min_bytes",
            "cache_ttl",
            "connect_timeout",
            "read_timeout",
            "allowed_paths",
            "allowed_methods",
            "forward_account_headers",
            "idle_timeout",
            "retries",
            "retry_any_surface",
            "fallback",
            "notes",
        ]

    def clean_connect_timeout(self) -> float | None:
        return positive_or_blank(self.cleaned_data["connect_timeout"])

    def clean_read_timeout(self) -> float | None:
        return positive_or_blank(self.cleaned_data["read_timeout"])

    def clean_idle_timeout(self) -> float | None:
        return positive_or_blank(self.cleaned_data["idle_timeout"])

    def _post_clean(self) -> None:
        # The instance holds the edited values only after the model's own cleaning; the fallback
        # is then judged against the table as it would be with this edit saved.
        super()._post_clean()  # type: ignore[misc]  # ModelForm's, missing from the stubs
        route = self.instance
        if "fallback" in self.errors or not route.fallback.strip():
            return
        others = UpstreamRoute.objects.exclude(pk=route.pk) if route.pk else UpstreamRoute.objects
        problem = fallbacks.problem(route, [*others.all(), route])
        if problem:
            self.add_error("fallback", problem)


@admin.register(UpstreamRoute)
class UpstreamRouteAdmin(admin.ModelAdmin[UpstreamRoute]):
    form = UpstreamRouteForm
    list_display = [
        "position",
        "model_prefix",
        "upstream_or_default",
        "protocol",
        "auth_state",
        "strip_prefix",
        "compression_or_default",
        "cache_ttl",
        "fallback",
        "enabled",
        "shadowed",
    ]
    list_display_links = ["model_prefix"]
    list_editable = ["position"]
    list_filter = ["enabled", "protocol"]
    search_fields = ["model_prefix", "upstream", "notes"]
    ordering = ["position", "id"]
    actions = [enable_selected, disable_selected]
    readonly_fields = ["key_variable_state", "created", "updated"]
    fieldsets = [
        (None, {"fields": ["position", "model_prefix", "enabled"]}),
        (
            "Upstream",
            {"fields": ["upstream", "protocol", "auth", "key_variable_state", "strip_prefix"]},
        ),
        (
            "Where an env: key may go",
            {"fields": ["allowed_paths", "allowed_methods", "forward_account_headers"]},
        ),
        (
            "Behaviour",
            {
                "fields": [
                    "compression",
                    "compression_min_bytes",
                    "cache_ttl",
                    "connect_timeout",
                    "read_timeout",
                    "idle_timeout",
                ]
            },
        ),
        (
            "Failures before the first byte",
            {"fields": ["retries", "retry_any_surface", "fallback"]},
        ),
        ("Notes", {"fields": ["notes", "created", "updated"]}),
    ]

    @admin.display(description="upstream", ordering="upstream")
    def upstream_or_default(self, route: UpstreamRoute) -> SafeString:
        return breakable(route.upstream or f"default of {route.protocol}")

    @admin.display(description="auth", ordering="auth")
    def auth_state(self, route: UpstreamRoute) -> SafeString | str:
        state = key_variable(route.auth)
        if state is None or state[1]:
            return breakable(route.auth)
        return format_html("{} " + UNSET, breakable(route.auth), "unset")

    @admin.display(description="key variable")
    def key_variable_state(self, route: UpstreamRoute) -> SafeString | str:
        state = key_variable(route.auth)
        if state is None:
            return "none: passthrough forwards the client's own key"
        name, is_set = state
        if is_set:
            return f"{name} is set in the server's environment"
        return format_html(
            UNSET + ": requests on this route are refused (502) until it is set and the "
            "gateway restarted with it.",
            f"{name} is not set in the server's environment",
        )

    def save_model(self, request: HttpRequest, obj: UpstreamRoute, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        state = key_variable(obj.auth)
        if state is not None and not state[1]:
            self.message_user(
                request,
                f"{state[0]} is not set in the server's environment: requests on this route are "
                "refused (502) until it is.",
                messages.WARNING,
            )

    @admin.display(description="compression", ordering="compression")
    def compression_or_default(self, route: UpstreamRoute) -> str:
        return route.compression or "default"

    @admin.display(description="shadowed")
    def shadowed(self, route: UpstreamRoute) -> SafeString | str:
        by = getattr(route, "shadowed_by", None)
        if by is None:
            return "no"
        url = reverse("admin:routing_upstreamroute_change", args=[by.pk])
        return format_html(
            'by <a href="{}">{}</a> at position {}', url, by.model_prefix, by.position
        )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return RouteChangeList

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        form = WhichRouteForm(take_params(request, f"{WHICH_PREFIX}-") or None, prefix=WHICH_PREFIX)
        which = None
        if form.is_bound and form.is_valid():
            which = which_route(form.cleaned_data["model"], form.cleaned_data["family"])
        context = {"which_form": form, "which": which, **(extra_context or {})}
        return super().changelist_view(request, context)


@admin.register(AllowedUpstream)
class AllowedUpstreamAdmin(admin.ModelAdmin[AllowedUpstream]):
    list_display = ["url", "allow_private", "auth", "enabled", "short_notes"]
    list_filter = ["enabled", "allow_private"]
    search_fields = ["url", "notes"]
    actions = [enable_selected, disable_selected]
    fields = ["url", "allow_private", "auth", "enabled", "notes", "created"]
    readonly_fields = ["created"]

    @admin.display(description="notes")
    def short_notes(self, entry: AllowedUpstream) -> str:
        return Truncator(entry.notes).chars(80)
