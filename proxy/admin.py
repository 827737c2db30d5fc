"""Admin for the request log (read-only, cheap on millions of rows) and the model price list."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from proxy.models import ModelPrice, RequestLog


class FamilyFilter(admin.SimpleListFilter):
    """Fixed choices: no DISTINCT query over the whole log to list three values."""

    title = "family"
    parameter_name = "family"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(family, family) for family in ("openai", "anthropic", "gemini")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(family=self.value()) if self.value() else queryset


class StatusFilter(admin.SimpleListFilter):
    """Status classes rather than every code ever seen, again without a scan of the log."""

    title = "status"
    parameter_name = "status_class"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(str(n), f"{n}xx") for n in (2, 3, 4, 5)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if not (self.value() or "").isdigit():
            return queryset
        low = int(self.value()) * 100
        return queryset.filter(status__gte=low, status__lt=low + 100)


@admin.register(RequestLog)
class RequestLogAdmin(admin.ModelAdmin):
    list_display = [
        "created",
        "family",
        "method",
        "endpoint",
        "model",
        "route_label",
        "status",
        "error_type",
        "latency_ms",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "cost_source",
        "team",
    ]
    # Route choices come from the route table; model and team values are read through their
    # (model, created) and (team, created) indexes. No date_hierarchy: it scans every row.
    list_filter = [FamilyFilter, "route", "model", StatusFilter, "team", "cost_source"]
    search_fields = ["=request_id"]
    # A COUNT(*) over the whole log on every page view would be the slowest query on the page.
    show_full_result_count = False
    list_per_page = 50

    def get_readonly_fields(self, request: HttpRequest, obj: RequestLog | None = None) -> list:
        return [field.name for field in RequestLog._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RequestLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: RequestLog | None = None) -> bool:
        return False


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = [
        "pattern",
        "input_per_mtok",
        "output_per_mtok",
        "cache_read_per_mtok",
        "cache_write_per_mtok",
        "updated",
    ]
    search_fields = ["pattern"]
    readonly_fields = ["updated"]
