"""App config for routing: connects the route-table invalidation signals."""

from __future__ import annotations

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from routing import table  # noqa: F401  (connects the signal receivers)
