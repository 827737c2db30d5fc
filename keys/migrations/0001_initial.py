"""Gateway keys move here from the proxy app: the table is renamed, every row kept."""

import django.utils.timezone
from django.db import migrations, models

from headroom_site.moves import move_content_types, rename_table


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
                    rename_table("proxy", "GatewayKey", "keys_gatewaykey"),
                    rename_table("proxy", "GatewayKey", "proxy_gatewaykey", reverse=True),
                ),
            ],
        ),
        migrations.RunPython(
            move_content_types("proxy", "keys", ["gatewaykey"]),
            move_content_types("keys", "proxy", ["gatewaykey"]),
        ),
    ]
