"""`manage.py prune_request_logs --older-than 90d`: delete old request-log rows in batches.

Batches keep each transaction short, so proxied requests' log writes never wait long on it.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from proxy.models import RequestLog

_AGE = re.compile(r"^(\d+)([dh])$")
BATCH_SIZE = 5000


def parse_age(value: str) -> timedelta:
    """`90d` or `12h` → a timedelta; anything else is an error."""
    match = _AGE.match(value.strip().lower())
    if not match:
        raise CommandError(f"--older-than must look like 90d or 12h, not {value!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)


def prune(cutoff: timedelta, batch_size: int = BATCH_SIZE) -> int:
    """Delete rows created before now - cutoff, batch by batch; returns how many went."""
    before = timezone.now() - cutoff
    deleted = 0
    while True:
        ids = list(
            RequestLog.objects.filter(created__lt=before)
            .order_by()
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        # No signals or cascades hang on RequestLog, so this is one plain DELETE per batch.
        deleted += RequestLog.objects.filter(id__in=ids).delete()[0]


class Command(BaseCommand):
    help = "Delete request-log rows older than the given age (e.g. 90d or 12h), in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, help="Age such as 90d or 12h.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args: object, older_than: str, batch_size: int, **options: object) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        deleted = prune(parse_age(older_than), batch_size)
        self.stdout.write(f"Deleted {deleted} request log rows older than {older_than}.")
