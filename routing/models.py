"""Admin-managed routing data: model-prefix routes and allowed override targets (SPEC §2–§3)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from routing import lending
from routing.baseurl import AllowEntry, InvalidBaseURL, parse_base_url
from routing.families import Family

PASSTHROUGH = "passthrough"
_ENV_AUTH = re.compile(r"^env:[A-Za-z_][A-Za-z0-9_]*$")


class Compression(models.TextChoices):
    DEFAULT = "", "Default (HEADROOM_COMPRESSION_DEFAULT)"
    OFF = "off", "Off"
    LOSSLESS = "lossless", "Lossless"
    AGGRESSIVE = "aggressive", "Aggressive"


def validate_upstream(value: str) -> None:
    if not value:
        return
    try:
        parse_base_url(value)
    except InvalidBaseURL as exc:
        raise ValidationError(f"Enter an http(s) base URL with a host: {exc}.") from None


def validate_auth(value: str) -> None:
    if value != PASSTHROUGH and not _ENV_AUTH.match(value):
        raise ValidationError(
            "Enter 'passthrough' or 'env:' followed by an environment variable name, "
            "for example env:OPENAI_API_KEY."
        )


def validate_allowed_paths(value: str) -> None:
    if problems := lending.path_problems(value):
        raise ValidationError(f"Enter paths such as /v1/files: {'; '.join(problems)}.")


def validate_allowed_methods(value: str) -> None:
    if problems := lending.method_problems(value):
        raise ValidationError(f"Enter HTTP methods such as GET, POST: {'; '.join(problems)}.")


def validate_allow_entry(value: str) -> None:
    try:
        AllowEntry.parse(value)
    except InvalidBaseURL as exc:
        raise ValidationError(f"Enter an http(s) base URL: {exc}.") from None


class UpstreamRoute(models.Model):
    position = models.PositiveIntegerField(
        default=0, db_index=True, help_text="Order of evaluation; the first enabled match wins."
    )
    model_prefix = models.CharField(
        max_length=200,
        help_text="Case-insensitive model-name prefix, for example glm- or claude-; * matches all.",
    )
    upstream = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_upstream],
        help_text="Base URL, e.g. https://ollama.com. Blank = the protocol's default target.",
    )
    protocol = models.CharField(
        max_length=16,
        choices=Family.choices,
        default=Family.OPENAI,
        help_text="Default target and how an injected key is presented (Bearer, x-api-key, …).",
    )
    auth = models.CharField(
        max_length=200,
        default=PASSTHROUGH,
        validators=[validate_auth],
        help_text="passthrough forwards the client's key; env:OLLAMA_API_KEY injects it.",
    )
    strip_prefix = models.BooleanField(
        default=False,
        help_text="Forward the model without the prefix: anthropic:claude-x becomes claude-x.",
    )
    compression = models.CharField(
        max_length=16,
        choices=Compression.choices,
        default=Compression.DEFAULT,
        blank=True,
        help_text="Tool-output compression for this route; blank uses the gateway default.",
    )
    compression_min_bytes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=(
            "Tool outputs smaller than this many bytes are left alone, e.g. 1024; "
            "blank = HEADROOM_COMPRESSION_MIN_BYTES."
        ),
    )
    cache_ttl = models.PositiveIntegerField(
        default=0,
        help_text="Seconds an identical request may be answered from the cache, e.g. 300; 0 = off.",
    )
    connect_timeout = models.FloatField(
        null=True, blank=True, help_text="Seconds to connect, e.g. 5; blank = gateway default."
    )
    read_timeout = models.FloatField(
        null=True, blank=True, help_text="Seconds between bytes, e.g. 120; blank = gateway default."
    )
    allowed_paths = models.TextField(
        blank=True,
        validators=[validate_allowed_paths],
        help_text=(
            "Only for env: routes: the paths the injected key may be used on, separated by "
            "spaces or commas, e.g. /v1/files /v1/files/*; * stands for one path segment. "
            "Blank = the model surfaces (chat/completions, completions, responses, embeddings, "
            "models, messages, count_tokens, Gemini generate/stream/count)."
        ),
    )
    allowed_methods = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_allowed_methods],
        help_text="Only for env: routes: e.g. GET, POST, DELETE. Blank = GET and POST.",
    )
    forward_account_headers = models.BooleanField(
        default=False,
        help_text=(
            "Only for env: routes: forward the caller's openai-organization, openai-project "
            "and x-goog-user-project headers, which choose whose account the key bills."
        ),
    )
    idle_timeout = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.001)],
        help_text="Seconds a stream may go without a chunk, e.g. 60; blank = only read_timeout.",
    )
    retries = models.PositiveSmallIntegerField(
        default=2,
        validators=[MaxValueValidator(10)],
        help_text=(
            "Retries before the first byte reaches the client, on connection errors and 429, "
            "500, 502, 503, 504, 529 answers, e.g. 2; 0 = off."
        ),
    )
    retry_any_surface = models.BooleanField(
        default=False,
        help_text=(
            "Also retry and fall back on requests that are not model calls (files, batches, "
            "POSTs to other paths), which an upstream may then carry out twice."
        ),
    )
    fallback = models.CharField(
        max_length=200,
        blank=True,
        help_text=(
            "model_prefix of another enabled route tried when this one fails before the first "
            "byte, e.g. claude-; its own upstream, key and timeouts apply. Blank = none."
        ),
    )
    enabled = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    # Not a column: set on the admin changelist's rows only (routing.admin.mark_shadowed).
    shadowed_by: UpstreamRoute | None

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.model_prefix} → {self.upstream or f'{self.protocol} default'}"

    @property
    def matches_everything(self) -> bool:
        return self.model_prefix == "*"

    def matches(self, model: str) -> bool:
        return self.matches_everything or model.lower().startswith(self.model_prefix.lower())


class AllowedUpstream(models.Model):
    url = models.CharField(
        max_length=500,
        validators=[validate_allow_entry],
        help_text="Allowed override base, e.g. https://api.deepseek.com or https://*.example.com/v1.",
    )
    allow_private = models.BooleanField(
        default=False,
        help_text="Allow a DNS name that resolves to a private address (an in-house Ollama).",
    )
    auth = models.CharField(
        max_length=200,
        default=PASSTHROUGH,
        validators=[validate_auth],
        help_text="passthrough (normal) or env:VAR to inject a key into requests sent here.",
    )
    enabled = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["url"]
        verbose_name = "allowed override upstream"

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        try:
            self.as_entry()
        except InvalidBaseURL as exc:
            raise ValidationError({"auth": f"{exc}."}) from None

    def as_entry(self) -> AllowEntry:
        return AllowEntry.parse(self.url, allow_private=self.allow_private, auth=self.auth)
