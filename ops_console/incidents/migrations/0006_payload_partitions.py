from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0005_resolution_targets_from_the_reports'),
    ]

    operations = [
        migrations.AddField(
            model_name='webhookpayload',
            name='pending',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='webhookpayload',
            name='partitioning',
            field=models.CharField(blank=True, max_length=520),
        ),
    ]
