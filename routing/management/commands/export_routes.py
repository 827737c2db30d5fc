"""`manage.py export_routes`: print every route, by position, in the import_routes JSON format."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from routing import routes_file
from routing.models import UpstreamRoute


class Command(BaseCommand):
    help = (
        "Print all routes, in order, as the JSON list import_routes reads "
        "(export_routes | import_routes --replace - changes nothing)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(routes_file.dumps(UpstreamRoute.objects.order_by("position", "id")))
