"""`manage.py rebuild_rollup`: recompute the dashboard's rollup from the request-log rows.

The log writer and pruning keep the rollup exact; a rebuild is for rows changed by hand or a
database restored from a backup.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from requestlog.models import Rollup


class Command(BaseCommand):
    help = "Recompute the dashboard's hourly and daily rollup from the request-log rows."

    def handle(self, *args: object, **options: object) -> None:
        count = Rollup.objects.rebuild()
        self.stdout.write(f"Rebuilt the rollup from {count} request log rows.")
