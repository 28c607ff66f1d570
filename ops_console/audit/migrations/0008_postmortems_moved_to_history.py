"""Postmortems now belong to the history app (its 0001 took them over): audit
lets go of them in the migration state only; the tables stay where they are."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0007_sealed_entries_and_witness"),
        ("history", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(model_name="postmortem", name="latest"),
                migrations.DeleteModel(name="PostmortemVersion"),
                migrations.DeleteModel(name="Postmortem"),
            ],
        ),
    ]
