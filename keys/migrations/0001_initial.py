"""Gateway keys move here from the proxy app: the table is renamed, every row kept."""

import django.utils.timezone
from django.db import migrations, models

from typing import Any
from collections.abc import Callable


# Steps of the move, written out here so the migration never changes with the code.
Step = Callable[[Any, Any], None]


def rename_table(old_table: str, new_table: str) -> Step:
    """Rename a table in place: every row, index and constraint stays."""

    def step(apps: Any, schema_editor: Any) -> None:
        quote = schema_editor.quote_name
        rename = schema_editor.sql_rename_table
        schema_editor.execute(rename % {"old_table": quote(old_table), "new_table": quote(new_table)})

    return step


def move_content_types(old_app: str, new_app: str, models: list[str]) -> Step:
    def step(apps: Any, schema_editor: Any) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        db = schema_editor.connection.alias
        rows = content_type.objects.using(db).filter(app_label=old_app, model__in=models)
        rows.update(app_label=new_app)

    return step


def drop_sqlite_objects(objects: list[tuple[str, str]]) -> Step:
    """Drop triggers and tables that only ever existed on SQLite (IF EXISTS: a fresh database
    never had them)."""

    def step(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "sqlite":
            return
        for kind, name in objects:
            schema_editor.execute(f"DROP {kind.upper()} IF EXISTS {name}")

    return step


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("proxy", "0005_prices_for_longer_names"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
        migrations.CreateModel(
                    name='GatewayKey',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('team', models.CharField(help_text='Team named in every request-log row, e.g. data-science.', max_length=100)),
                        ('name', models.CharField(blank=True, help_text='What this key is for, e.g. ci-runner.', max_length=100)),
                        ('prefix', models.CharField(editable=False, max_length=12)),
                        ('secret_hash', models.CharField(editable=False, max_length=64, unique=True)),
                        ('active', models.BooleanField(default=True, help_text='Untick to refuse this key at once.')),
                        ('expires', models.DateTimeField(blank=True, help_text='Refused from this moment on, e.g. 2027-01-01 00:00; blank = never expires.', null=True)),
                        ('created', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('last_used', models.DateTimeField(blank=True, editable=False, null=True)),
                        ('requests_per_minute', models.PositiveIntegerField(blank=True, help_text='e.g. 120; blank = no rate limit.', null=True)),
                        ('monthly_budget_usd', models.DecimalField(blank=True, decimal_places=2, help_text='USD per calendar month (UTC) from the request log, e.g. 250.00; blank = none.', max_digits=12, null=True)),
                    ],
                    options={
                        'ordering': ['team', 'name', 'id'],
                    },
                ),
            ],
            database_operations=[
                migrations.RunPython(
                    rename_table("proxy_gatewaykey", "keys_gatewaykey"),
                    rename_table("keys_gatewaykey", "proxy_gatewaykey"),
                ),
            ],
        ),
        migrations.RunPython(
            move_content_types("proxy", "keys", ["gatewaykey"]),
            move_content_types("keys", "proxy", ["gatewaykey"]),
        ),
    ]
