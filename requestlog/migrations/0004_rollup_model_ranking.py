
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('requestlog', '0003_requestlog_attempts_answered_route'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='rollup',
            index=models.Index(fields=['grain', 'bucket', 'route_label', 'model', 'requests'], name='requestlog_rollup_ranking'),
        ),
    ]
