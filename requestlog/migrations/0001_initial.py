"""The request log and the price list move here from the proxy app: tables renamed, every row
kept. The SQLite triggers that kept the old dashboard rollup go first (SQLite would otherwise
rewrite them through the rename); the log writer keeps the new rollup (0002)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from typing import Any
from collections.abc import Callable

OLD_ROLLUP = [
    ("trigger", "proxy_dashboard_v1_insert"),
    ("trigger", "proxy_dashboard_v1_delete"),
    ("trigger", "proxy_dashboard_v1_update"),
    ("table", "proxy_dashboard_hourly_v1"),
    ("table", "proxy_dashboard_daily_v1"),
]


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
        ("routing", "0002_upstreamroute_compression_min_bytes"),
        ("proxy", "0005_prices_for_longer_names"),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_objects(OLD_ROLLUP), migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            state_operations=[
        migrations.CreateModel(
                    name='ModelPrice',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('pattern', models.CharField(help_text='Case-insensitive model-name prefix, e.g. gpt-4o-mini or claude-sonnet-4; the longest matching prefix wins, so gpt-4o-mini beats gpt-4o.', max_length=200, unique=True)),
                        ('input_per_mtok', models.DecimalField(decimal_places=6, help_text='USD per million uncached input tokens, e.g. 2.50.', max_digits=12)),
                        ('output_per_mtok', models.DecimalField(decimal_places=6, help_text='USD per million output tokens (reasoning included), e.g. 10.00.', max_digits=12)),
                        ('cache_read_per_mtok', models.DecimalField(blank=True, decimal_places=6, help_text='USD per million cache-read tokens, e.g. 1.25; blank = the input rate.', max_digits=12, null=True)),
                        ('cache_write_per_mtok', models.DecimalField(blank=True, decimal_places=6, help_text='USD per million cache-write tokens, e.g. 3.75; blank = the input rate.', max_digits=12, null=True)),
                        ('notes', models.TextField(blank=True, help_text='Source and date of the price, e.g. list price 2025-06.')),
                        ('updated', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'ordering': ['pattern'],
                    },
                ),
        migrations.CreateModel(
                    name='RequestLog',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created', models.DateTimeField(default=django.utils.timezone.now)),
                        ('request_id', models.CharField(db_index=True, max_length=64)),
                        ('family', models.CharField(max_length=16)),
                        ('endpoint', models.CharField(max_length=500)),
                        ('method', models.CharField(max_length=16)),
                        ('model', models.CharField(blank=True, max_length=200)),
                        ('model_forwarded', models.CharField(blank=True, max_length=200)),
                        ('route_label', models.CharField(blank=True, max_length=200)),
                        ('upstream_host', models.CharField(blank=True, max_length=255)),
                        ('override', models.BooleanField(default=False)),
                        ('team', models.CharField(blank=True, max_length=100)),
                        ('gateway_key_id', models.PositiveBigIntegerField(blank=True, null=True)),
                        ('status', models.PositiveSmallIntegerField()),
                        ('error_type', models.CharField(blank=True, max_length=64)),
                        ('stream', models.BooleanField(default=False)),
                        ('disconnected', models.BooleanField(default=False)),
                        ('latency_ms', models.FloatField()),
                        ('ttfb_ms', models.FloatField(blank=True, null=True)),
                        ('overhead_ms', models.FloatField()),
                        ('input_tokens', models.PositiveIntegerField(default=0)),
                        ('output_tokens', models.PositiveIntegerField(default=0)),
                        ('cache_read_tokens', models.PositiveIntegerField(default=0)),
                        ('cache_write_tokens', models.PositiveIntegerField(default=0)),
                        ('usage_reported', models.BooleanField(default=False)),
                        ('tokens_before', models.PositiveIntegerField(blank=True, null=True)),
                        ('tokens_after', models.PositiveIntegerField(blank=True, null=True)),
                        ('estimated_tokens_before', models.PositiveIntegerField(blank=True, null=True)),
                        ('estimated_tokens_after', models.PositiveIntegerField(blank=True, null=True)),
                        ('savings_note', models.CharField(blank=True, max_length=64)),
                        ('cache_hit', models.BooleanField(default=False)),
                        ('cost_usd', models.DecimalField(blank=True, decimal_places=10, max_digits=18, null=True)),
                        ('saved_usd', models.DecimalField(blank=True, decimal_places=10, max_digits=18, null=True)),
                        ('cost_source', models.CharField(choices=[('priced', 'Priced'), ('estimated', 'Estimated'), ('unpriced', 'Unpriced')], default='unpriced', max_length=16)),
                        ('route', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='routing.upstreamroute')),
                    ],
                    options={
                        'ordering': ['-created', '-id'],
                        'indexes': [models.Index(fields=['created'], name='proxy_log_created'), models.Index(fields=['route', 'created'], name='proxy_log_route_created'), models.Index(fields=['model', 'created'], name='proxy_log_model_created'), models.Index(fields=['family', 'created'], name='proxy_log_family_created'), models.Index(fields=['upstream_host', 'created'], name='proxy_log_host_created'), models.Index(fields=['team', 'created'], name='proxy_log_team_created')],
                    },
                ),
            ],
            database_operations=[
                migrations.RunPython(
                    rename_table("proxy_modelprice", "requestlog_modelprice"),
                    rename_table("requestlog_modelprice", "proxy_modelprice"),
                ),
                migrations.RunPython(
                    rename_table("proxy_requestlog", "requestlog_requestlog"),
                    rename_table("requestlog_requestlog", "proxy_requestlog"),
                ),
            ],
        ),
        migrations.RunPython(
            move_content_types("proxy", "requestlog", ["requestlog", "modelprice"]),
            move_content_types("requestlog", "proxy", ["requestlog", "modelprice"]),
        ),
    ]
