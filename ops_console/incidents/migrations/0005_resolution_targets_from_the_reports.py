"""Resolution targets from the reports' MTTR (ops_console/incidents/defaults.py,
docs/shipped-set.md): P0 4 h -> 15 min, P1 8 h -> 30 min, P2 1 day -> 2 h. A
severity whose target is not the first default any more was set by an admin and
is left alone. The values are copied, not imported: a migration must not change
when defaults.py does."""
from datetime import timedelta

from django.db import migrations

# code -> (the first default, the new default)
CHANGES = {
    "P0": (timedelta(hours=4), timedelta(minutes=15)),
    "P1": (timedelta(hours=8), timedelta(minutes=30)),
    "P2": (timedelta(days=1), timedelta(hours=2)),
}


def forwards(apps, schema_editor):
    Severity = apps.get_model("incidents", "Severity")
    for code, (old, new) in CHANGES.items():
        Severity.objects.filter(code=code, resolution_target=old).update(resolution_target=new)


def backwards(apps, schema_editor):
    Severity = apps.get_model("incidents", "Severity")
    for code, (old, new) in CHANGES.items():
        Severity.objects.filter(code=code, resolution_target=new).update(resolution_target=old)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_payload_queue")]
    operations = [migrations.RunPython(forwards, backwards)]
