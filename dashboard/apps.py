"""App config for the dashboard: its live feed listens for request-log rows being written."""

from __future__ import annotations

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from dashboard import consumers
        from requestlog.signals import rows_written

        rows_written.connect(consumers.on_rows_written, dispatch_uid="dashboard-live-feed")
