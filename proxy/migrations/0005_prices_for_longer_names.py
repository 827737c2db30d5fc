"""Prices for models whose names start with a shorter seeded pattern (o3-pro with o3, o1-pro with
o1, gpt-5-pro with gpt-5): without their own row the longest-prefix match would bill them at the
shorter pattern's rate. Public list prices, USD per million tokens; none of these offers cached
input except the minis. Rows an admin already added are left as they are.
"""

from decimal import Decimal

from django.db import migrations

LISTED = "list price 2026-11-22"

# pattern, input, output, cache read (None = the input rate)
PRICES = [
    ("o3-pro", "20", "80", None),
    ("o3-mini", "1.10", "4.40", "0.55"),
    ("o1-pro", "150", "600", None),
    ("o1-mini", "1.10", "4.40", "0.55"),
    ("gpt-5-pro", "15", "120", None),
]


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("proxy", "ModelPrice")
    for pattern, inp, out, cache_read in PRICES:
        ModelPrice.objects.get_or_create(
            pattern=pattern,
            defaults={
                "input_per_mtok": Decimal(inp),
                "output_per_mtok": Decimal(out),
                "cache_read_per_mtok": None if cache_read is None else Decimal(cache_read),
                "notes": LISTED,
            },
        )


def unseed(apps, schema_editor):
    ModelPrice = apps.get_model("proxy", "ModelPrice")
    ModelPrice.objects.filter(pattern__in=[row[0] for row in PRICES], notes=LISTED).delete()


class Migration(migrations.Migration):
    dependencies = [("proxy", "0004_request_log_savings_figures")]

    operations = [migrations.RunPython(seed, unseed)]
