"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels consumers."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "headroom_site.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from proxy.asgi import GatewayHandler, PathRouter  # noqa: E402

application = ProtocolTypeRouter({"http": PathRouter(GatewayHandler(), django_asgi_app)})
