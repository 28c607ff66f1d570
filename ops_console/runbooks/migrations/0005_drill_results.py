# Drills as measured experiments: one result per run of a drill (drills.py).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('runbooks', '0004_schedules'),
    ]

    operations = [
        migrations.CreateModel(
            name='DrillResult',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('targets', models.JSONField(default=dict, help_text="The version's targets in seconds, as the run measured them")),
                ('events', models.JSONField(blank=True, default=dict)),
                ('fault_injected_at', models.DateTimeField(blank=True, help_text='T0', null=True)),
                ('fault_removed_at', models.DateTimeField(blank=True, help_text='T1', null=True)),
                ('detected_at', models.DateTimeField(blank=True, null=True)),
                ('recovered_at', models.DateTimeField(blank=True, null=True)),
                ('detection_seconds', models.FloatField(blank=True, null=True)),
                ('recovery_seconds', models.FloatField(blank=True, null=True)),
                ('detection_met', models.BooleanField(blank=True, null=True)),
                ('recovery_met', models.BooleanField(blank=True, null=True)),
                ('passed', models.BooleanField(blank=True, help_text='Every target met; null until the run ends', null=True)),
                ('over_budget', models.JSONField(blank=True, default=list, help_text='Titles of the phases over their budget')),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('run', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='drill_result', to='runbooks.run')),
                ('runbook', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='drill_results', to='runbooks.runbook')),
            ],
            options={
                'ordering': ['-run_id'],
            },
        ),
    ]
