"""App config for the proxy."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class ProxyConfig(AppConfig):
    name = "proxy"
    verbose_name = "Gateway"

    def ready(self) -> None:
        from proxy import checks, keys, rollup  # noqa: F401  (registers checks and key signals)

        # The dashboard's rollup triggers step aside for proxy migrations, and after every
        # migrate they exist and match the rows.
        pre_migrate.connect(rollup.on_pre_migrate, sender=self)
        post_migrate.connect(rollup.on_post_migrate, sender=self)
