"""The three wire-format families (SPEC §1) as one choices type, and each family's default
upstream, the target of a request that no enabled route matches (SPEC §2).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Family(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"
    GEMINI = "gemini", "Gemini"


def default_targets() -> dict[str, str]:
    """Read at call time, so override_settings and a changed environment apply at once."""
    return {
        Family.OPENAI: settings.OPENAI_TARGET_API_URL,
        Family.ANTHROPIC: settings.ANTHROPIC_TARGET_API_URL,
        Family.GEMINI: settings.GEMINI_TARGET_API_URL,
    }
