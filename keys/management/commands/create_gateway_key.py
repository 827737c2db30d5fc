"""`manage.py create_gateway_key --team NAME`: a new gateway key, its secret printed this once.

The secret alone goes to stdout (so `KEY=$(… create_gateway_key …)` captures it); what was
created, and the warning that it cannot be shown again, go to stderr.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from keys import issuing


def expiry(value: str) -> datetime:
    """YYYY-MM-DD → the first moment of that day (site time zone): the key works until then."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--expires must be a date like 2027-01-31, not {value!r}") from None
    return timezone.make_aware(datetime.combine(day, time.min))


def budget(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise CommandError(
            f"--budget must be an amount in USD like 250.00, not {value!r}"
        ) from None
    if not amount.is_finite() or amount < 0:
        raise CommandError("--budget must be zero or more")
    return amount.quantize(Decimal("0.01"))


class Command(BaseCommand):
    help = "Create a gateway key for a team and print its secret (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--team", required=True, help="team named in the request log")
        parser.add_argument("--name", default="", help="what the key is for, e.g. ci-runner")
        parser.add_argument("--rpm", type=int, default=None, help="requests per minute")
        parser.add_argument("--budget", default=None, help="monthly budget in USD, e.g. 250")
        parser.add_argument("--expires", default=None, help="refused from this date on")

    def handle(self, *args: object, rpm: int | None, **options: object) -> None:
        team, name = str(options["team"]).strip(), str(options["name"]).strip()
        if not 0 < len(team) <= 100 or len(name) > 100:
            raise CommandError("--team must be 1 to 100 characters, --name at most 100")
        if rpm is not None and rpm < 1:
            raise CommandError("--rpm must be at least 1")
        key, secret = issuing.issue(
            team=team,
            name=name,
            requests_per_minute=rpm,
            monthly_budget_usd=None
            if options["budget"] is None
            else budget(str(options["budget"])),
            expires=None if options["expires"] is None else expiry(str(options["expires"])),
        )
        self.stderr.write(
            f"Created gateway key {key.pk} for team {key.team} ({key.display_prefix})."
        )
        self.stderr.write("Store it now: it is shown only this once.")
        self.stdout.write(secret)
