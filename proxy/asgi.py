"""The ASGI entry for gateway traffic: Django's request and response machinery, minus the hops.

Django's ASGIHandler runs the request signals and `response.close()` through `sync_to_async`
inside a per-request thread context, which starts a thread for every request. Gateway paths need
neither (they hold no database connection on the event loop's thread; the few sync calls that
touch the database run through `channels.db.database_sync_to_async`, which closes old and broken
connections before and after, as the request signals would), so they get this lean handler,
the one way in for /v1 and /v1beta; everything else goes to Django's own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from tempfile import SpooledTemporaryFile
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse
from django.urls import Resolver404, ResolverMatch, resolve, set_script_prefix

from proxy import views
from proxy.inbound import OVERSIZED

logger = logging.getLogger(__name__)

GATEWAY_PREFIXES = ("/v1/", "/v1beta/")
# Probes scraped every few seconds: async views that need no session, CSRF or auth either.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Paths up to this long keep their resolved view; longer ones are resolved on each request.
REMEMBERED_PATH_CHARS = 256

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


class GatewayHandler(ASGIHandler):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body_file = await self.read_limited_body(scope, receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            # Django returns either a request or the response refusing it.
            assert error_response is not None
            await self.send_response(error_response, send)
            return
        view = asyncio.create_task(self._respond(request, send))
        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait([listener, view], return_when=asyncio.FIRST_COMPLETED)
        finally:
            # The client left, or the response is out: stop whichever task is still running.
            for task in (listener, view):
                if not task.done():
                    task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            body_file.close()

    async def read_limited_body(self, scope: Scope, receive: Receive) -> Any:
        """The body, unless it is over HEADROOM_MAX_BODY_BYTES: then it is not read at all (a
        declared length) or no further, and the view answers 413 in the caller's format."""
        limit = settings.HEADROOM_MAX_BODY_BYTES
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > limit:
            scope[OVERSIZED] = True
            return SpooledTemporaryFile()  # noqa: SIM115
        # Closed by handle() once the response is out, as Django's own handler does.
        body_file = SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted()
            size += len(message.get("body", b""))
            if size > limit:
                scope[OVERSIZED] = True
                body_file.truncate(0)
                break
            body_file.write(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file

    async def _respond(self, request: Any, send: Send) -> None:
        try:
            match = resolve_path(request.path_info)
            response: HttpResponse = await match.func(request, *match.args, **match.kwargs)
        except Resolver404 as exc:
            response = views.not_found(request, exc)
        except Exception:
            # Views answer every expected failure themselves; this is the last resort.
            logger.exception("unhandled error on %s", request.path)
            response = views.server_error(request)
        try:
            await self.send_response(response, send)
        finally:
            # Private to Django, so not in its stubs; close() would also send request_finished.
            for closer in response._resource_closers:  # type: ignore[attr-defined]
                closer()


def resolve_path(path: str) -> ResolverMatch:
    """Django's `resolve`, remembered for short paths: the URL patterns never change while the
    process runs, and walking them (the admin's first) cost more than the rest of routing."""
    if len(path) > REMEMBERED_PATH_CHARS:
        return resolve(path)
    return _remembered(path)


@functools.lru_cache(maxsize=1024)
def _remembered(path: str) -> ResolverMatch:
    return resolve(path)


@receiver(setting_changed)
def _forget_paths(*, setting: str, **kwargs: object) -> None:
    """Tests that swap the URL patterns get them resolved anew."""
    if setting == "ROOT_URLCONF":
        _remembered.cache_clear()


class PathRouter:
    """Gateway paths and probes to the lean handler, everything else to Django's."""

    def __init__(self, gateway: GatewayHandler, django: ASGIHandler) -> None:
        self.gateway = gateway
        self.django = django

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path.startswith(GATEWAY_PREFIXES) or path in PROBE_PATHS:
            return await self.gateway(scope, receive, send)
        return await self.django(scope, receive, send)
