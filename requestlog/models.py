"""The shared request log (one row per proxied request, SPEC §9), the model price list, and the
dashboard's rollup of the log, kept by the log writer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypedDict, cast

from django.db import connections, models, transaction
from django.utils import timezone

from requestlog import rollup
from requestlog.rollup import BINS


class Digits(TypedDict):
    max_digits: int
    decimal_places: int


# Enough precision for one token of the cheapest model ($0.01 per million = 1e-8 USD) and for
# the largest single request anyone would pay for.
USD: Digits = {"max_digits": 18, "decimal_places": 10}
PER_MTOK: Digits = {"max_digits": 12, "decimal_places": 6}


class CostSource(models.TextChoices):
    # Billed usage from the upstream, times a ModelPrice row.
    PRICED = "priced", "Priced"
    # The upstream reported no usage; the gateway's own input-token estimate was priced instead.
    ESTIMATED = "estimated", "Estimated"
    # No ModelPrice row matches the model: cost and saved cost are NULL, never $0.
    UNPRICED = "unpriced", "Unpriced"


# Python types each kind of column takes from the database driver as they are; any other value
# goes through its field's own conversion (`get_db_prep_save`), as bulk_create would send it.
NATIVE_TYPES: dict[str, tuple[type, ...]] = {
    "CharField": (str,),
    "TextField": (str,),
    "BooleanField": (bool,),
    "FloatField": (float,),
    **dict.fromkeys(
        (
            "IntegerField",
            "BigIntegerField",
            "SmallIntegerField",
            "PositiveIntegerField",
            "PositiveBigIntegerField",
            "PositiveSmallIntegerField",
            "ForeignKey",
        ),
        (int,),
    ),
}


class RequestLogManager(models.Manager["RequestLog"]):
    def add_rows(self, rows: list[RequestLog]) -> list[RequestLog]:
        """Save new rows and add them to the dashboard's rollup, in one transaction."""
        with transaction.atomic(using=self.db):
            self.insert(rows)
            Rollup.objects.db_manager(self.db).add(rows)
        return rows

    def insert(self, rows: list[RequestLog]) -> None:
        """bulk_create's statements without its per-value compiler, which cost the log writer
        more than the database did: one multi-row INSERT … RETURNING id per batch of rows."""
        db = connections[self.db]
        if not db.features.can_return_rows_from_bulk_insert:
            self.bulk_create(rows)
            return
        meta = self.model._meta
        fields = [field for field in meta.concrete_fields if not field.primary_key]
        native = [
            NATIVE_TYPES.get(field.get_internal_type(), ()) + (type(None),) for field in fields
        ]
        quote = db.ops.quote_name
        # Concrete fields always have a column; the stubs allow None for the abstract case.
        columns = ", ".join(quote(cast(str, field.column)) for field in fields)
        head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        key = meta.pk
        tail = f" RETURNING {quote(cast(str, key.column))}"
        size = max(db.ops.bulk_batch_size(fields, rows), 1)
        with db.cursor() as cursor:
            for start in range(0, len(rows), size):
                batch = rows[start : start + size]
                params: list[Any] = []
                for row in batch:
                    for field, types in zip(fields, native, strict=True):
                        value = getattr(row, field.attname)
                        if type(value) not in types:
                            value = field.get_db_prep_save(value, db)
                        params.append(value)
                cursor.execute(head + ", ".join([one] * len(batch)) + tail, params)
                for row, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                    row.pk = pk
                    row._state.adding = False
                    row._state.db = self.db


class RequestLog(models.Model):
    created = models.DateTimeField(default=timezone.now)
    request_id = models.CharField(max_length=64, db_index=True)  # admin search by request id
    family = models.CharField(max_length=16)  # openai / anthropic / gemini
    endpoint = models.CharField(max_length=500)  # the path as requested, without query string
    method = models.CharField(max_length=16)
    model = models.CharField(max_length=200, blank=True)  # as the client sent it
    model_forwarded = models.CharField(max_length=200, blank=True)  # after strip_prefix
    # The row outlives its route; route_label keeps what the route was (like LogEntry's repr).
    # No index of its own: the (route, created) index below starts with route_id.
    route = models.ForeignKey(
        "routing.UpstreamRoute",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        related_name="+",
    )
    # The matched prefix, or "default" (no route matched) / "override" (x-headroom-base-url).
    route_label = models.CharField(max_length=200, blank=True)
    upstream_host = models.CharField(max_length=255, blank=True)  # host[:port], no path
    # Upstream requests made (retries and fallbacks included; 0: answered without one), and the
    # route that answered: route_label's own prefix, or a fallback's.
    attempts = models.PositiveSmallIntegerField(default=0)
    answered_route = models.CharField(max_length=200, blank=True)
    override = models.BooleanField(default=False)
    # Gateway keys arrive later; until then the team name and key id are plain values.
    team = models.CharField(max_length=100, blank=True)
    gateway_key_id = models.PositiveBigIntegerField(null=True, blank=True)
    # HTTP status sent to the client; 499 when the client left before any status was known.
    status = models.PositiveSmallIntegerField()
    error_type = models.CharField(
        max_length=64, blank=True
    )  # gateway error code, e.g. upstream_timeout
    stream = models.BooleanField(default=False)
    disconnected = models.BooleanField(default=False)
    latency_ms = models.FloatField()
    ttfb_ms = models.FloatField(null=True, blank=True)  # NULL: no byte reached the client
    overhead_ms = models.FloatField()
    # Tokens as billed; 0 when the upstream reported no usage.
    input_tokens = models.PositiveIntegerField(default=0)  # uncached input only
    output_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    usage_reported = models.BooleanField(default=False)
    # Input tokens before and after the savings engine, the offline estimate calibrated with the
    # billed input (proxy.savings); NULL when it did not run.
    tokens_before = models.PositiveIntegerField(null=True, blank=True)
    tokens_after = models.PositiveIntegerField(null=True, blank=True)
    # The estimator's own figures for the body as received and as forwarded, uncalibrated; set
    # whenever it counted the body, engine or not, and priced when no usage was billed.
    estimated_tokens_before = models.PositiveIntegerField(null=True, blank=True)
    estimated_tokens_after = models.PositiveIntegerField(null=True, blank=True)
    # Why the body was or was not changed: compressed, no_tool_output, budget_exceeded, bypass, …
    savings_note = models.CharField(max_length=64, blank=True)
    cache_hit = models.BooleanField(default=False)
    cost_usd = models.DecimalField(**USD, null=True, blank=True)  # NULL when unpriced
    saved_usd = models.DecimalField(**USD, null=True, blank=True)  # NULL when unpriced
    cost_source = models.CharField(
        max_length=16, choices=CostSource.choices, default=CostSource.UNPRICED
    )

    objects = RequestLogManager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # Every dashboard panel: rows in a created range, and the latest rows first.
            models.Index(fields=["created"], name="proxy_log_created"),
            # Breakdown and filter by route within a range; also serves SET_NULL on route delete.
            models.Index(fields=["route", "created"], name="proxy_log_route_created"),
            # Breakdown and filter by model (as sent) within a range.
            models.Index(fields=["model", "created"], name="proxy_log_model_created"),
            # Breakdown and filter by family / provider within a range.
            models.Index(fields=["family", "created"], name="proxy_log_family_created"),
            # Breakdown by upstream host within a range.
            models.Index(fields=["upstream_host", "created"], name="proxy_log_host_created"),
            # Breakdown and filter by team (gateway key) within a range.
            models.Index(fields=["team", "created"], name="proxy_log_team_created"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.method} {self.endpoint} {self.status}"

    @property
    def priced(self) -> bool:
        return self.cost_source != CostSource.UNPRICED

    @property
    def tokens_saved(self) -> int:
        if self.tokens_before is None or self.tokens_after is None:
            return 0
        return max(self.tokens_before - self.tokens_after, 0)


class ModelPrice(models.Model):
    pattern = models.CharField(
        max_length=200,
        unique=True,
        help_text=(
            "Case-insensitive model-name prefix, e.g. gpt-4o-mini or claude-sonnet-4; the "
            "longest matching prefix wins, so gpt-4o-mini beats gpt-4o."
        ),
    )
    input_per_mtok = models.DecimalField(
        **PER_MTOK, help_text="USD per million uncached input tokens, e.g. 2.50."
    )
    output_per_mtok = models.DecimalField(
        **PER_MTOK, help_text="USD per million output tokens (reasoning included), e.g. 10.00."
    )
    cache_read_per_mtok = models.DecimalField(
        **PER_MTOK,
        null=True,
        blank=True,
        help_text="USD per million cache-read tokens, e.g. 1.25; blank = the input rate.",
    )
    cache_write_per_mtok = models.DecimalField(
        **PER_MTOK,
        null=True,
        blank=True,
        help_text="USD per million cache-write tokens, e.g. 3.75; blank = the input rate.",
    )
    notes = models.TextField(
        blank=True, help_text="Source and date of the price, e.g. list price 2025-06."
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pattern"]

    def __str__(self) -> str:
        return self.pattern

    def matches(self, model: str) -> bool:
        return model.lower().startswith(self.pattern.lower())

    @property
    def cache_read_rate(self) -> Decimal:
        return self.input_per_mtok if self.cache_read_per_mtok is None else self.cache_read_per_mtok

    @property
    def cache_write_rate(self) -> Decimal:
        if self.cache_write_per_mtok is None:
            return self.input_per_mtok
        return self.cache_write_per_mtok


class Grain(models.TextChoices):
    HOUR = "hour", "Hour"
    DAY = "day", "Day"


class RollupManager(models.Manager["Rollup"]):
    def add(self, rows: list[RequestLog], sign: int = 1) -> None:
        """Add `rows` to (or, with sign -1, take them out of) the rollup; call inside the
        transaction that writes or deletes the rows, so the two never disagree."""
        groups = rollup.accumulate(rows, sign)
        with transaction.atomic(using=self.db):
            rollup.write(connections[self.db], self.model._meta.db_table, groups)
            if sign < 0:
                # Groups whose last row went are removed, so pruned ranges leave nothing behind.
                # Only the buckets these rows were in are looked at (the unique index starts
                # with grain and bucket): a scan of the whole table per pruned batch would
                # grow with the table and hold the batch's transaction open as long.
                for grain in rollup.GRAINS:
                    buckets = {group[1] for group in groups if group[0] == grain}
                    self.filter(grain=grain, bucket__in=buckets, requests__lte=0).delete()

    def rebuild(self) -> int:
        """Recompute every group from the request log; returns the number of rows read."""
        return rollup.rebuild(RequestLog, self.model, using=self.db)


class Rollup(models.Model):
    """Sums of the request log per hour or day and key, kept by `requestlog.rollup.apply` in the
    transaction that writes or deletes the rows; every dashboard figure is read from here."""

    grain = models.CharField(max_length=4, choices=Grain.choices)
    bucket = models.DateTimeField()  # the hour's or the UTC day's start
    family = models.CharField(max_length=16)
    route_label = models.CharField(max_length=200)
    model = models.CharField(max_length=200)
    upstream_host = models.CharField(max_length=255)
    team = models.CharField(max_length=100)
    status = models.PositiveSmallIntegerField()
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    engine_requests = models.BigIntegerField(default=0)
    tokens_before = models.BigIntegerField(default=0)
    tokens_after = models.BigIntegerField(default=0)
    tokens_saved = models.BigIntegerField(default=0)
    cache_hits = models.BigIntegerField(default=0)
    priced_requests = models.BigIntegerField(default=0)
    estimated_requests = models.BigIntegerField(default=0)
    unpriced_requests = models.BigIntegerField(default=0)
    cost_priced = models.DecimalField(**USD, default=Decimal(0))
    cost_estimated = models.DecimalField(**USD, default=Decimal(0))
    saved_priced = models.DecimalField(**USD, default=Decimal(0))
    saved_estimated = models.DecimalField(**USD, default=Decimal(0))
    overhead_sum = models.FloatField(default=0.0)

    objects = RollupManager()

    class Meta:
        constraints = [
            # The upsert's conflict target; its index, grain and bucket first, also serves every
            # dashboard query: one grain's buckets in a range, optionally narrowed by key.
            models.UniqueConstraint(
                fields=[
                    "grain",
                    "bucket",
                    "family",
                    "route_label",
                    "model",
                    "upstream_host",
                    "team",
                    "status",
                ],
                name="requestlog_rollup_key",
            )
        ]
        indexes = [
            # The dashboard's ranking of model names per route over a range (SUM(requests) per
            # route_label and model): an index-only scan of these few columns instead of
            # reading the ~40 sums of every rollup row in the range. `requests` is a key column,
            # not INCLUDEd, so SQLite covers the query the same way.
            models.Index(
                fields=["grain", "bucket", "route_label", "model", "requests"],
                name="requestlog_rollup_ranking",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grain} {self.bucket:%Y-%m-%d %H:00} {self.route_label} {self.model}"


# One counter per overhead histogram bin (requestlog.rollup.BINS), 20 columns of the same kind.
for _bin in BINS:
    Rollup.add_to_class(_bin, models.BigIntegerField(default=0))
