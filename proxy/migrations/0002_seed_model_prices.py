"""Seed ModelPrice with public list prices of the main OpenAI, Anthropic and Gemini models.

Prices as listed on 2026-11-22 (USD per million tokens; standard tier, short prompts, no batch
or priority discounts): developers.openai.com/api/docs/pricing, platform.claude.com/docs/en/
about-claude/pricing, ai.google.dev/gemini-api/docs/pricing. Patterns are case-insensitive
prefixes and the longest one wins, so dated snapshots (gpt-4o-2024-08-06, claude-sonnet-4-5-
20250929) take their family's price. Anthropic cache writes are the 5-minute rate; a blank
cache rate means the input rate. Edit or add rows in the admin; nothing is fetched at run time.
"""

from decimal import Decimal

from django.db import migrations

LISTED = "list price 2026-11-22"
LONG_OPENAI = "; above 272K input tokens OpenAI bills 2x input and 1.5x output (not modelled)"
LONG_GEMINI = "; prompts above 200K tokens are billed higher (not modelled)"

# pattern, input, output, cache read, cache write (None = the input rate), note
PRICES = [
    # OpenAI
    ("gpt-6-astra", "10", "50", "1", "12.5", LISTED + LONG_OPENAI),
    ("gpt-6.1-sol", "2", "10", "0.10", None, LISTED + LONG_OPENAI),
    ("gpt-6-sol", "2", "10", "0.20", "2.5", LISTED + LONG_OPENAI),
    ("gpt-6-luna", "0.10", "0.50", "0.01", "0.125", LISTED + LONG_OPENAI),
    ("gpt-5.6-sol", "5", "30", "0.50", "6.25", LISTED + LONG_OPENAI),
    ("gpt-5.6-terra", "2", "12", "0.20", "2.5", LISTED + " (price cut of 2026-07-30)"),
    ("gpt-5.6-luna", "0.20", "1.20", "0.02", "0.25", LISTED + " (price cut of 2026-07-30)"),
    ("gpt-5.5", "5", "30", "0.50", None, LISTED),
    ("gpt-5.4", "2.5", "15", "0.25", None, LISTED),
    ("gpt-5", "1.25", "10", "0.125", None, LISTED + "; also gpt-5.1 to gpt-5.3"),
    ("gpt-5-mini", "0.25", "2", "0.025", None, LISTED),
    ("gpt-5-nano", "0.05", "0.40", "0.005", None, LISTED),
    ("gpt-4.1", "2", "8", "0.50", None, LISTED),
    ("gpt-4.1-mini", "0.40", "1.60", "0.10", None, LISTED),
    ("gpt-4.1-nano", "0.10", "0.40", "0.025", None, LISTED),
    ("gpt-4o", "2.5", "10", "1.25", None, LISTED),
    ("gpt-4o-mini", "0.15", "0.60", "0.075", None, LISTED),
    ("o3", "2", "8", "0.50", None, LISTED),
    ("o4-mini", "1.10", "4.40", "0.275", None, LISTED),
    ("o1", "15", "60", "7.50", None, LISTED),
    ("text-embedding-3-small", "0.02", "0", None, None, LISTED),
    ("text-embedding-3-large", "0.13", "0", None, None, LISTED),
    # Anthropic
    ("claude-fable-5-1", "10", "50", "0.25", "12.5", LISTED),
    ("claude-fable-5", "10", "50", "1", "12.5", LISTED),
    ("claude-mythos-5-1", "10", "50", "0.25", "12.5", LISTED + " (limited availability)"),
    ("claude-mythos-5", "10", "50", "1", "12.5", LISTED + " (limited availability)"),
    ("claude-opus-5-5", "4", "20", "0.20", "5", LISTED),
    ("claude-opus-5", "5", "25", "0.50", "6.25", LISTED),
    ("claude-opus-4-5", "5", "25", "0.50", "6.25", LISTED),
    ("claude-opus-4-6", "5", "25", "0.50", "6.25", LISTED),
    ("claude-opus-4-7", "5", "25", "0.50", "6.25", LISTED),
    ("claude-opus-4-8", "5", "25", "0.50", "6.25", LISTED),
    ("claude-opus-4", "15", "75", "1.50", "18.75", LISTED + "; Opus 4 and 4.1"),
    ("claude-sonnet-5-5", "2", "10", "0.10", "2.5", LISTED + " (cache-read cut of 2026-10-07)"),
    ("claude-sonnet-5", "2", "10", "0.20", "2.5", LISTED),
    ("claude-sonnet-4", "3", "15", "0.30", "3.75", LISTED + "; Sonnet 4 to 4.6"),
    ("claude-3-7-sonnet", "3", "15", "0.30", "3.75", LISTED),
    ("claude-3-5-sonnet", "3", "15", "0.30", "3.75", LISTED),
    (
        "claude-haiku-5-5",
        "0.10",
        "0.50",
        "0.01",
        "0.125",
        LISTED + "; prompts up to 100K tokens (longer prompts are billed 5x, not modelled)",
    ),
    ("claude-haiku-4-5", "1", "5", "0.10", "1.25", LISTED),
    ("claude-3-5-haiku", "0.80", "4", "0.08", "1", LISTED),
    ("claude-3-haiku", "0.25", "1.25", "0.03", "0.30", LISTED),
    # Gemini (context-cache storage is billed per hour and is not modelled)
    ("gemini-3.5-flash", "1.50", "9", None, None, LISTED),
    ("gemini-3.1-pro", "2", "12", "0.20", None, LISTED + LONG_GEMINI),
    ("gemini-3.1-flash-lite", "0.25", "1.50", "0.025", None, LISTED),
    ("gemini-3-flash", "0.50", "3", "0.05", None, LISTED),
    ("gemini-2.5-pro", "1.25", "10", "0.125", None, LISTED + LONG_GEMINI),
    ("gemini-2.5-flash", "0.30", "2.50", "0.03", None, LISTED),
    ("gemini-2.5-flash-lite", "0.10", "0.40", "0.01", None, LISTED),
    ("gemini-2.0-flash", "0.10", "0.40", "0.025", None, LISTED),
]


def _decimal(value):
    return None if value is None else Decimal(value)


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("proxy", "ModelPrice")
    for pattern, inp, out, cache_read, cache_write, notes in PRICES:
        ModelPrice.objects.update_or_create(
            pattern=pattern,
            defaults={
                "input_per_mtok": Decimal(inp),
                "output_per_mtok": Decimal(out),
                "cache_read_per_mtok": _decimal(cache_read),
                "cache_write_per_mtok": _decimal(cache_write),
                "notes": notes,
            },
        )


def unseed(apps, schema_editor):
    ModelPrice = apps.get_model("proxy", "ModelPrice")
    ModelPrice.objects.filter(pattern__in=[row[0] for row in PRICES]).delete()


class Migration(migrations.Migration):
    dependencies = [("proxy", "0001_request_log_and_prices")]

    operations = [migrations.RunPython(seed, unseed)]
