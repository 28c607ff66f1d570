# Recurring maintenance windows: a cron expression in a time zone opens a window
# of `duration` at each occurrence; ends_at, optional for them, ends the series.
# Existing (one-off) windows keep cron blank and satisfy the new constraint.
import datetime

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('escalation', '0003_delivery_key_and_claimer'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='maintenancewindow',
            name='window_ends_after_start',
        ),
        migrations.AddField(
            model_name='maintenancewindow',
            name='cron',
            field=models.CharField(blank=True, help_text='Blank for a one-off window', max_length=100),
        ),
        migrations.AddField(
            model_name='maintenancewindow',
            name='duration',
            field=models.DurationField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='maintenancewindow',
            name='time_zone',
            field=models.CharField(default='UTC', help_text='IANA name, e.g. Europe/Berlin', max_length=64),
        ),
        migrations.AlterField(
            model_name='maintenancewindow',
            name='ends_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name='maintenancewindow',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('cron', ''), ('ends_at__gt', models.F('starts_at')), ('ends_at__isnull', False)), models.Q(models.Q(('cron', ''), _negated=True), ('duration__gt', datetime.timedelta(0)), models.Q(('ends_at__isnull', True), ('ends_at__gt', models.F('starts_at')), _connector='OR')), _connector='OR'), name='window_ends_after_start'),
        ),
    ]
