"""App config for the proxy."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProxyConfig(AppConfig):
    name = "proxy"
    verbose_name = "Gateway"

    def ready(self) -> None:
        from proxy import rollup

        # After every migrate: the dashboard's rollup triggers exist and match the rows.
        post_migrate.connect(rollup.on_post_migrate, sender=self)
