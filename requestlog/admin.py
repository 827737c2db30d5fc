"""Admin for the request log (read-only, cheap on millions of rows) and the model price list."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

from requestlog.models import ModelPrice, RequestLog
from requestlog.pricing import usd
from routing.families import Family


class FamilyFilter(admin.SimpleListFilter):
    """Fixed choices: no DISTINCT query over the whole log to list three values."""

    title = "family"
    parameter_name = "family"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return list(Family.choices)

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[RequestLog]
    ) -> QuerySet[RequestLog]:
        return queryset.filter(family=self.value()) if self.value() else queryset


class StatusFilter(admin.SimpleListFilter):
    """Status classes rather than every code ever seen, again without a scan of the log."""

    title = "status"
    parameter_name = "status_class"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        return [(str(n), f"{n}xx") for n in (2, 3, 4, 5)]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[RequestLog]
    ) -> QuerySet[RequestLog]:
        value = self.value() or ""
        if not value.isdigit():
            return queryset
        low = int(value) * 100
        return queryset.filter(status__gte=low, status__lt=low + 100)


class RecentValueFilter(admin.SimpleListFilter):
    """Choices from the latest rows only: a DISTINCT over the whole log would read every row on
    every page view. Any value still filters when given in the address."""

    RECENT_ROWS = 5000
    # Every subclass names its RequestLog column.
    parameter_name: str

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str]]:
        latest = RequestLog.objects.order_by("-id").values_list(self.parameter_name, flat=True)
        values = sorted({value for value in latest[: self.RECENT_ROWS] if value})
        return [(value, value) for value in values]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[RequestLog]
    ) -> QuerySet[RequestLog]:
        if not self.value():
            return queryset
        return queryset.filter(**{self.parameter_name: self.value()})


class ModelFilter(RecentValueFilter):
    title = "model (seen lately)"
    parameter_name = "model"


class TeamFilter(RecentValueFilter):
    title = "team (seen lately)"
    parameter_name = "team"


class CappedPaginator(Paginator[RequestLog]):
    """Counts at most CAP rows (a bounded subquery), never the whole log; the page shows that
    many results at most, and the newest rows come first anyway."""

    CAP = 10_000
    # The admin hands it the changelist's queryset.
    object_list: QuerySet[RequestLog]

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.CAP].count()


def duration(ms: float | None) -> str:
    """Milliseconds below a second, seconds above; "—" when no byte reached the client."""
    if ms is None:
        return "—"
    return f"{ms:,.0f} ms" if ms < 1000 else f"{ms / 1000:,.1f} s"


@admin.register(RequestLog)
class RequestLogAdmin(admin.ModelAdmin[RequestLog]):
    list_display = [
        "time",
        "family",
        "method",
        "endpoint",
        "model",
        "route_label",
        "status",
        "error_type",
        "latency",
        "input_tokens",
        "output_tokens",
        "cost",
        "cost_source",
        "team",
    ]
    # Route choices come from the route table, model and team from the latest rows. No
    # date_hierarchy: it scans every row.
    list_filter = [FamilyFilter, "route", ModelFilter, StatusFilter, TeamFilter, "cost_source"]
    search_fields = ["=request_id"]
    # A COUNT(*) over the whole log on every page view would be the slowest query on the page.
    show_full_result_count = False
    paginator = CappedPaginator
    list_per_page = 50

    # Columns shown by a method with a plain label and formatted value instead of the raw field
    # ("Ttfb ms: 12.345678", "Cost usd: 0.0000012000").
    READABLE = {
        "created": "time",
        "latency_ms": "latency",
        "ttfb_ms": "time_to_first_byte",
        "overhead_ms": "gateway_overhead",
        "cost_usd": "cost",
        "saved_usd": "saved",
    }

    def get_fields(self, request: HttpRequest, obj: RequestLog | None = None) -> list[str]:  # type: ignore[override]
        return self.readable_fields()

    def get_readonly_fields(self, request: HttpRequest, obj: RequestLog | None = None) -> list[str]:
        return self.readable_fields()

    def readable_fields(self) -> list[str]:
        """Every field, those with a plain label under their method's name."""
        return [
            self.READABLE.get(f.name, f.name) for f in RequestLog._meta.fields if f.name != "id"
        ]

    @admin.display(description="time (UTC)", ordering="created")
    def time(self, row: RequestLog) -> str:
        return row.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, row: RequestLog) -> str:
        return duration(row.latency_ms)

    @admin.display(description="time to first byte")
    def time_to_first_byte(self, row: RequestLog) -> str:
        return duration(row.ttfb_ms)

    @admin.display(description="gateway overhead")
    def gateway_overhead(self, row: RequestLog) -> str:
        return duration(row.overhead_ms)

    @admin.display(description="cost", ordering="cost_usd")
    def cost(self, row: RequestLog) -> str:
        return usd(row.cost_usd)

    @admin.display(description="saved")
    def saved(self, row: RequestLog) -> str:
        return usd(row.saved_usd)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RequestLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: RequestLog | None = None) -> bool:
        return False


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin[ModelPrice]):
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
