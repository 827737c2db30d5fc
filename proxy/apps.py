"""App config for the proxy: registers the gateway's system checks."""

from __future__ import annotations

from django.apps import AppConfig


class ProxyConfig(AppConfig):
    name = "proxy"
    verbose_name = "Gateway"

    def ready(self) -> None:
        from proxy import checks  # noqa: F401  (registers the system checks)
