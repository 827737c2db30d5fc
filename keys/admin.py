"""Admin for the teams' gateway keys: the secret is shown once, when the key is made."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from keys import issuing
from keys.models import GatewayKey
from requestlog.pricing import usd


@admin.register(GatewayKey)
class GatewayKeyAdmin(admin.ModelAdmin[GatewayKey]):
    """Keys are created here with a fresh secret, shown once on the page that follows the save;
    afterwards only the prefix is ever displayed."""

    list_display = [
        "team",
        "name",
        "display_prefix",
        "active",
        "expires",
        "last_used",
        "requests_per_minute",
        "monthly_budget",
        "created",
    ]
    list_filter = ["active", "team"]
    search_fields = ["team", "name", "prefix"]
    fields = [
        "team",
        "name",
        "active",
        "expires",
        "requests_per_minute",
        "monthly_budget_usd",
        "max_in_flight",
        "display_prefix",
        "created",
        "last_used",
    ]
    readonly_fields = ["display_prefix", "created", "last_used"]

    @admin.display(description="monthly budget", ordering="monthly_budget_usd")
    def monthly_budget(self, obj: GatewayKey) -> str:
        return "none" if obj.monthly_budget_usd is None else usd(obj.monthly_budget_usd)

    @admin.display(description="key")
    def display_prefix(self, obj: GatewayKey) -> str:
        return obj.display_prefix

    def save_model(self, request: HttpRequest, obj: GatewayKey, form: Any, change: bool) -> None:
        if not change:
            # Kept on the unsaved object only until the response below has shown it.
            obj.new_secret = issuing.assign_secret(obj)
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: GatewayKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        """A page with the secret instead of a redirect: the secret never passes through the
        session or a message cookie, and no later page can show it again."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "key": obj,
            "secret": obj.new_secret,
            "title": "Gateway key created",
        }
        # The admin marks every page no-store, so no cache keeps this one either.
        return TemplateResponse(request, "admin/keys/gatewaykey/created.html", context)
