"""GatewayKey moved to the keys app, RequestLog and ModelPrice to the requestlog app; their
tables were renamed there, so the proxy app only forgets them."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("proxy", "0005_prices_for_longer_names"),
        ("keys", "0001_initial"),
        ("requestlog", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="GatewayKey"),
                migrations.DeleteModel(name="RequestLog"),
                migrations.DeleteModel(name="ModelPrice"),
            ],
            database_operations=[],
        ),
    ]
