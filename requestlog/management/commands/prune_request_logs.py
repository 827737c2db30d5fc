"""`manage.py prune_request_logs --older-than 90d`: delete old request-log rows in batches.

Batches keep each transaction short, so proxied requests' log writes never wait long on it; each
batch takes its rows out of the dashboard's rollup in the same transaction.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from requestlog import rollup
from requestlog.models import RequestLog, Rollup

_AGE = re.compile(r"^(\d+)([dh])$")
BATCH_SIZE = 5000


def parse_age(value: str) -> timedelta:
    """`90d` or `12h` → a timedelta; anything else is an error."""
    match = _AGE.match(value.strip().lower())
    if not match:
        raise CommandError(f"--older-than must look like 90d or 12h, not {value!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)


def prune(before: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Delete rows created before `before`, batch by batch; returns how many went."""
    deleted = 0
    while True:
        with transaction.atomic():
            # Oldest first, through the index on created: an unordered LIMIT may be planned as
            # a sequential scan, which walks past every row earlier batches left dead.
            old = RequestLog.objects.filter(created__lt=before).only(*rollup.ROW_FIELDS)
            batch = list(old.order_by("created")[:batch_size])
            if not batch:
                return deleted
            Rollup.objects.add(batch, sign=-1)
            # No signals or cascades hang on RequestLog, so this is one plain DELETE per batch.
            deleted += RequestLog.objects.filter(id__in=[row.pk for row in batch]).delete()[0]


class Command(BaseCommand):
    help = "Delete request-log rows older than the given age (e.g. 90d or 12h), in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, help="Age such as 90d or 12h.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args: object, older_than: str, batch_size: int, **options: object) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        deleted = prune(timezone.now() - parse_age(older_than), batch_size)
        self.stdout.write(f"Deleted {deleted} request log rows older than {older_than}.")
