"""Thin async views: each names its surface and hands the request to the gateway."""

from __future__ import annotations

import asyncio

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request, page_not_found
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from proxy import admit, gateway, schema, wire
from proxy import metrics as proxy_metrics
from proxy.errors import GatewayError, error_response
from proxy.inbound import Surface
from requestlog import writer
from routing import database
from routing.families import Family

OPENAI = Surface("openai", "body", model_required=True)
ANTHROPIC = Surface("anthropic", "body", model_required=True)
ANTHROPIC_OTHER = Surface("anthropic", "body")
GEMINI = Surface("gemini", "path")
BY_HEADERS = Surface(None, "body")


async def gateway_view(request: HttpRequest, surface: Surface, rest: str = "") -> HttpResponse:
    """Every API surface: the URL pattern names the surface, the gateway does the rest."""
    return await gateway.handle(request, surface)


async def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 outside the gateway surfaces: JSON for API clients, Django's page for the admin."""
    if is_page(request):
        return page_not_found(request, exception)
    error = GatewayError(404, f"unknown path {request.path}", "unknown_surface")
    return error_response(family_of(request), error)


def bad_request_error(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 raised by Django itself (a Host not in ALLOWED_HOSTS): JSON for API clients too."""
    if is_page(request):
        return bad_request(request, exception)
    error = GatewayError(400, "the request was refused as malformed", "bad_request")
    return error_response(family_of(request), error)


def is_page(request: HttpRequest) -> bool:
    return request.path.startswith(("/admin/", "/dashboard/", "/static/"))


def family_of(request: HttpRequest) -> str:
    return wire.family_from_headers(
        {k.lower(): v for k, v in request.headers.items()}, request.META.get("QUERY_STRING", "")
    )


def server_error(request: HttpRequest) -> HttpResponse:
    error = GatewayError(500, "the gateway failed to handle the request", "internal_error")
    return error_response(family_of(request), error)


async def readyz(request: HttpRequest) -> HttpResponse:
    """Ready to serve: the database answers with every migration applied and the request-log
    writer is running (else 503)."""
    reachable = await database.run(database_reachable)
    checks = {
        "database": reachable,
        "migrations": reachable and await database.run(schema.migrations_applied),
        "log_writer": writer.writer.ensure_started(),
    }
    status = 200 if all(checks.values()) else 503
    return JsonResponse(
        {"status": "ok" if status == 200 else "unavailable", **checks}, status=status
    )


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


async def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition of this process's metrics, to whom may read them."""
    try:
        await admit.check_metrics_access(request)
    except GatewayError as error:
        return error_response(Family.OPENAI, error)
    proxy_metrics.LOOP_TASKS.set(len(asyncio.all_tasks()))
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
