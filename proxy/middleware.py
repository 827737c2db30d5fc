"""The gateway fast path: API traffic skips sessions, CSRF, auth and messages.

Those middlewares are sync and would cost several thread hops per proxied request, and CSRF
would refuse every SDK POST; they still run for the admin and the dashboard.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

GATEWAY_PREFIXES = ("/v1/", "/v1beta/")
# Probes scraped every few seconds: async views that need no session, CSRF or auth either.
PROBE_PATHS = frozenset({"/readyz", "/metrics"})


class GatewayFastPathMiddleware:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponse]]) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(GATEWAY_PREFIXES) or request.path_info in PROBE_PATHS:
            try:
                match = resolve(request.path_info)
            except Resolver404:
                return await self.get_response(request)
            return await match.func(request, *match.args, **match.kwargs)
        return await self.get_response(request)
