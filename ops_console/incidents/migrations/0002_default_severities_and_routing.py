"""Severities P0-P3 and the alert routing from the source documents (see
ops_console/incidents/defaults.py)."""
from django.db import migrations


def forwards(apps, schema_editor):
    from ops_console.incidents.defaults import ensure_defaults

    ensure_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
