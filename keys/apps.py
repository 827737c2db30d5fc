"""App config for gateway keys: connects the key-table invalidation signals."""

from __future__ import annotations

from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = "Gateway keys"

    def ready(self) -> None:
        from keys import table  # noqa: F401  (connects the signal receivers)
