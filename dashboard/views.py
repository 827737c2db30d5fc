"""The savings dashboard at /dashboard/ (staff only): the page, its CSV exports and live JSON.

Each view reads the filters from the query string, asks dashboard.stats for the figures and hands
them to a template or a CSV writer; nothing here computes a figure.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from urllib.parse import urlencode

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render

from dashboard import charts, clients, display, stats

# Live updates ask for at most this many new rows at a time; the page shows the newest.
LIVE_LIMIT = 50
# Text that a spreadsheet would run as a formula (model names come from clients), also after
# leading whitespace, which spreadsheets skip; full-width forms are read as formulas too.
FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
LEADING_SPACE = " \t\r\n\x0b\x0c\u00a0\u3000"


def _filters(request: HttpRequest) -> stats.Filters:
    return stats.parse_filters(request.GET)


def _sorts(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(f"sort_{name}", "") for name in stats.DIMENSIONS}


@staff_member_required
def index(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    board = stats.build(filters, _sorts(request))
    params = filters.as_params()
    base_url = request.build_absolute_uri("/").rstrip("/")
    context = {
        "board": board,
        "tiles": display.tiles(board.headline),
        "charts": charts.dashboard_charts(board.series, filters.range.bucket),
        "tables": [_table(table, request, params) for table in board.breakdowns],
        "recent_headings": display.RECENT_HEADINGS,
        "recent": [
            (row, list(zip(display.RECENT_HEADINGS, display.recent_cells(row), strict=True)))
            for row in board.recent
        ],
        "query": urlencode(params),
        "ranges": [
            (name, display.RANGE_LABELS[name], _link(request, range=name)) for name in stats.PRESETS
        ],
        "kept_filters": {k: v for k, v in params.items() if k not in RANGE_PARAMS},
        "clear_link": "?" + urlencode({k: v for k, v in params.items() if k in RANGE_PARAMS}),
        "status_choices": list(stats.STATUS_CLASSES),
        "unpriced": display.UNPRICED_NOTE if board.headline.unpriced_requests else "",
        # A gateway that has never logged a request opens on how to send the first one.
        "first_request": board.latest_id == 0,
        "base_url": base_url,
        "snippets": clients.snippets(base_url),
    }
    return render(request, "dashboard/index.html", context)


RANGE_PARAMS = ("range", "from", "to")


def _link(request: HttpRequest, **changes: str) -> str:
    """This page's query string with some parameters changed (custom dates dropped on presets)."""
    params = request.GET.copy()
    if changes.get("range", "custom") != "custom":
        params.pop("from", None)
        params.pop("to", None)
    for name, value in changes.items():
        params[name] = value
    return "?" + params.urlencode()


def _table(
    table: stats.Breakdown, request: HttpRequest, params: dict[str, str]
) -> dict[str, object]:
    headings = [("key", TABLE_TITLES[table.dimension])] + list(display.COLUMNS)
    labels = [label for _, label in display.COLUMNS]
    columns = []
    for key, label in headings:
        active = key == table.sort
        # A click on the active column flips it; on another, numbers sort high to low first.
        descending = not table.descending if active else key != "key"
        link = _link(request, **{f"sort_{table.dimension}": ("-" if descending else "") + key})
        arrow = ("▼" if table.descending else "▲") if active else ""
        columns.append({"label": label, "link": link, "arrow": arrow})
    return {
        "dimension": table.dimension,
        "title": TABLE_TITLES[table.dimension],
        "columns": columns,
        # Each cell with its column's heading, which labels it where a row reads as a card.
        "lines": [
            (
                line.key or display.NONE,
                list(zip(labels, display.line_cells(line.figures), strict=True)),
            )
            for line in table.lines
        ],
        "csv": f"export/{table.dimension}.csv?{urlencode(params)}",
    }


TABLE_TITLES = {
    "route": "Route",
    "model": "Model",
    "family": "Family",
    "host": "Upstream host",
    "team": "Team",
}


@staff_member_required
def live(request: HttpRequest) -> JsonResponse:
    """New rows after `after` that pass the filters, and the tiles recomputed."""
    filters = _filters(request)
    try:
        after = max(int(request.GET.get("after", "0")), 0)
    except ValueError:
        after = 0
    rows = stats.recent(filters, after_id=after, limit=LIVE_LIMIT)
    tiles = display.tiles(stats.headline(filters))
    return JsonResponse(
        {
            "last_id": max([after, stats.latest_id()]),
            "rows": [
                {"id": row.id, "error": row.status >= 400, "cells": display.recent_cells(row)}
                for row in rows
            ],
            "tiles": {tile.id: {"value": tile.value, "detail": tile.detail} for tile in tiles},
        }
    )


# CSV exports


@staff_member_required
def export_breakdown(request: HttpRequest, dimension: str) -> HttpResponse:
    if dimension not in stats.DIMENSIONS:
        raise Http404("no such breakdown")
    filters = _filters(request)
    table = stats.breakdown_of(filters, dimension, request.GET.get(f"sort_{dimension}", ""))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["content-disposition"] = _attachment(f"{dimension}-{filters.range.name}")
    writer = csv.writer(response)
    writer.writerow([dimension, *BREAKDOWN_FIELDS])
    for line in table.lines:
        writer.writerow([_cell(line.key), *_figure_values(line.figures)])
    return response


BREAKDOWN_FIELDS = (
    "requests",
    "errors",
    "error_rate",
    "input_tokens",
    "uncached_input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "tokens_saved",
    "saved_share",
    "spend_usd",
    "spend_estimated_usd",
    "estimated_requests",
    "unpriced_requests",
    "saved_usd",
    "saved_estimated_usd",
    "cache_hits",
    "cache_hit_rate",
    "overhead_p50_ms",
    "overhead_p95_ms",
)


def _figure_values(f: stats.Figures) -> list[object]:
    return [
        f.requests,
        f.errors,
        _number(f.error_rate),
        f.input_tokens,
        f.uncached_input_tokens,
        f.cache_read_tokens,
        f.cache_write_tokens,
        f.output_tokens,
        f.tokens_saved,
        _number(f.saved_share),
        display.UNPRICED if f.spend is None else f.spend,
        f.spend_estimated,
        f.estimated_requests,
        f.unpriced_requests,
        display.UNPRICED if f.saved_usd is None else f.saved_usd,
        f.saved_usd_estimated,
        f.cache_hits,
        _number(f.cache_hit_rate),
        _number(f.overhead_p50.value),
        _number(f.overhead_p95.value),
    ]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


ROW_FIELDS = (
    "created",
    "request_id",
    "family",
    "endpoint",
    "method",
    "model",
    "model_forwarded",
    "route_label",
    "upstream_host",
    "override",
    "team",
    "status",
    "error_type",
    "stream",
    "disconnected",
    "latency_ms",
    "ttfb_ms",
    "overhead_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "tokens_before",
    "tokens_after",
    "cache_hit",
    "cost_usd",
    "saved_usd",
    "cost_source",
)


@staff_member_required
def export_rows(request: HttpRequest) -> StreamingHttpResponse:
    """Every row behind the page's panels, streamed so a month of traffic needs no memory."""
    filters = _filters(request)
    rows = stats.filtered_rows(filters).values_list(*ROW_FIELDS).iterator(chunk_size=2000)
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["content-disposition"] = _attachment(f"requests-{filters.range.name}")
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[tuple[object, ...]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(ROW_FIELDS)
    for row in rows:
        yield writer.writerow([_row_value(value) for value in row])


def _row_value(value: object) -> object:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return _cell(value) if isinstance(value, str) else value


def _cell(value: str) -> str:
    if value.lstrip(LEADING_SPACE).startswith(FORMULA_STARTS) or value.startswith(("\t", "\r")):
        return "'" + value
    return value


def _attachment(name: str) -> str:
    return f'attachment; filename="headroom-{name}.csv"'
