"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels consumers."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "headroom_site.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from dashboard.consumers import DashboardConsumer  # noqa: E402
from proxy.asgi import GatewayHandler, PathRouter  # noqa: E402
from proxy.forwarded import TrustedProxyHeaders  # noqa: E402

# The dashboard's live feed; the consumer itself admits staff users only.
websockets = AllowedHostsOriginValidator(
    AuthMiddlewareStack(URLRouter([path("dashboard/live/", DashboardConsumer.as_asgi())]))
)

application = TrustedProxyHeaders(
    ProtocolTypeRouter(
        {"http": PathRouter(GatewayHandler(), django_asgi_app), "websocket": websockets}
    )
)
