"""The dashboard's rollup, kept by the log writer on every database, filled from the rows."""

from decimal import Decimal

from django.db import migrations, models


def fill(apps, schema_editor):
    from requestlog import rollup

    rollup.rebuild(
        apps.get_model("requestlog", "RequestLog"),
        apps.get_model("requestlog", "Rollup"),
        using=schema_editor.connection.alias,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("requestlog", "0001_initial"),
    ]

    operations = [
    migrations.CreateModel(
                name='Rollup',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('grain', models.CharField(choices=[('hour', 'Hour'), ('day', 'Day')], max_length=4)),
                    ('bucket', models.DateTimeField()),
                    ('family', models.CharField(max_length=16)),
                    ('route_label', models.CharField(max_length=200)),
                    ('model', models.CharField(max_length=200)),
                    ('upstream_host', models.CharField(max_length=255)),
                    ('team', models.CharField(max_length=100)),
                    ('status', models.PositiveSmallIntegerField()),
                    ('requests', models.BigIntegerField(default=0)),
                    ('errors', models.BigIntegerField(default=0)),
                    ('input_tokens', models.BigIntegerField(default=0)),
                    ('output_tokens', models.BigIntegerField(default=0)),
                    ('cache_read_tokens', models.BigIntegerField(default=0)),
                    ('cache_write_tokens', models.BigIntegerField(default=0)),
                    ('engine_requests', models.BigIntegerField(default=0)),
                    ('tokens_before', models.BigIntegerField(default=0)),
                    ('tokens_after', models.BigIntegerField(default=0)),
                    ('tokens_saved', models.BigIntegerField(default=0)),
                    ('cache_hits', models.BigIntegerField(default=0)),
                    ('priced_requests', models.BigIntegerField(default=0)),
                    ('estimated_requests', models.BigIntegerField(default=0)),
                    ('unpriced_requests', models.BigIntegerField(default=0)),
                    ('cost_priced', models.DecimalField(decimal_places=10, default=Decimal('0'), max_digits=18)),
                    ('cost_estimated', models.DecimalField(decimal_places=10, default=Decimal('0'), max_digits=18)),
                    ('saved_priced', models.DecimalField(decimal_places=10, default=Decimal('0'), max_digits=18)),
                    ('saved_estimated', models.DecimalField(decimal_places=10, default=Decimal('0'), max_digits=18)),
                    ('overhead_sum', models.FloatField(default=0.0)),
                    ('overhead_b00', models.BigIntegerField(default=0)),
                    ('overhead_b01', models.BigIntegerField(default=0)),
                    ('overhead_b02', models.BigIntegerField(default=0)),
                    ('overhead_b03', models.BigIntegerField(default=0)),
                    ('overhead_b04', models.BigIntegerField(default=0)),
                    ('overhead_b05', models.BigIntegerField(default=0)),
                    ('overhead_b06', models.BigIntegerField(default=0)),
                    ('overhead_b07', models.BigIntegerField(default=0)),
                    ('overhead_b08', models.BigIntegerField(default=0)),
                    ('overhead_b09', models.BigIntegerField(default=0)),
                    ('overhead_b10', models.BigIntegerField(default=0)),
                    ('overhead_b11', models.BigIntegerField(default=0)),
                    ('overhead_b12', models.BigIntegerField(default=0)),
                    ('overhead_b13', models.BigIntegerField(default=0)),
                    ('overhead_b14', models.BigIntegerField(default=0)),
                    ('overhead_b15', models.BigIntegerField(default=0)),
                    ('overhead_b16', models.BigIntegerField(default=0)),
                    ('overhead_b17', models.BigIntegerField(default=0)),
                    ('overhead_b18', models.BigIntegerField(default=0)),
                    ('overhead_b19', models.BigIntegerField(default=0)),
                ],
                options={
                    'constraints': [models.UniqueConstraint(fields=('grain', 'bucket', 'family', 'route_label', 'model', 'upstream_host', 'team', 'status'), name='requestlog_rollup_key')],
                },
            ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
