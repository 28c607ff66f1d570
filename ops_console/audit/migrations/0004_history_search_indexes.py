"""Indexes the incident history needs on the incidents app's tables: text
search over titles, summaries and timeline messages (GIN) and
the detection time. Built from the same expressions audit.history queries with,
so the planner matches them."""
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations, models

TEXT_INDEXES = [
    ("Incident", "audit_incident_text_gin", ("title", "summary")),
    ("TimelineEvent", "audit_timeline_text_gin", ("message",)),
]
DETECTED_INDEX = ("Incident", "audit_incident_detected", ("detected_at", "id"))


def _indexes(apps):
    Incident = apps.get_model("incidents", "Incident")
    yield Incident, models.Index(fields=list(DETECTED_INDEX[2]), name=DETECTED_INDEX[1])
    for model_name, name, fields in TEXT_INDEXES:
        yield apps.get_model("incidents", model_name), GinIndex(SearchVector(*fields, config="english"), name=name)


def up(apps, schema_editor):
    for model, index in _indexes(apps):
        schema_editor.add_index(model, index)


def down(apps, schema_editor):
    for model, index in _indexes(apps):
        schema_editor.remove_index(model, index)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_append_only_trigger"), ("incidents", "0001_initial")]
    operations = [migrations.RunPython(up, down)]
