"""A team's gateway keys (SPEC §4): only a keyed hash of each secret is stored."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class GatewayKey(models.Model):
    """A team's key to the gateway (`hr-…`): only a keyed hash of the secret is stored."""

    team = models.CharField(
        max_length=100, help_text="Team named in every request-log row, e.g. data-science."
    )
    name = models.CharField(
        max_length=100, blank=True, help_text="What this key is for, e.g. ci-runner."
    )
    # The first characters of the secret, enough to tell keys apart in lists and logs.
    prefix = models.CharField(max_length=12, editable=False)
    # HMAC-SHA256 of the secret under the server's key secret (keys/issuing.py), hex. Unique, so
    # two rows can never answer to one secret; its index serves no query (keys are read whole).
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    active = models.BooleanField(default=True, help_text="Untick to refuse this key at once.")
    expires = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Refused from this moment on, e.g. 2027-01-01 00:00; blank = never expires.",
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    # Written at most once a minute per key, off the request path.
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="e.g. 120; blank = no rate limit."
    )
    monthly_budget_usd = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="USD per calendar month (UTC) from the request log, e.g. 250.00; blank = none.",
    )
    # Not a column: set by the admin on a key it has just made, until the page that shows the
    # secret once (keys.admin.GatewayKeyAdmin).
    new_secret: str
    max_in_flight = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=(
            "Requests this key may have in flight at once on each worker, e.g. 8; "
            "blank = HEADROOM_MAX_IN_FLIGHT_PER_KEY."
        ),
    )

    class Meta:
        ordering = ["team", "name", "id"]

    def __str__(self) -> str:
        label = f"{self.team} / {self.name}" if self.name else self.team
        return f"{label} ({self.display_prefix})"

    @property
    def display_prefix(self) -> str:
        return f"{self.prefix}…" if self.prefix else "—"
