"""Postmortems move here from audit. Their tables were made by audit's 0005 and
keep their names (db_table), so this takes the models over in the migration
state only; audit's 0008 lets go of them the same way. Their content types are
renamed too, so the permissions (and the roles holding them) stay the same rows."""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ("postmortem", "postmortemversion")


def _move_content_types(apps, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def adopt_content_types(apps, schema_editor):
    _move_content_types(apps, "audit", "history")


def return_content_types(apps, schema_editor):
    _move_content_types(apps, "history", "audit")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("audit", "0007_sealed_entries_and_witness"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("incidents", "0002_default_severities_and_routing"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Postmortem",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("created_at", models.DateTimeField()),
                        ("created_by", models.ForeignKey(blank=True, null=True,
                                                         on_delete=django.db.models.deletion.SET_NULL,
                                                         related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("incident", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT,
                                                          related_name="postmortem", to="incidents.incident")),
                    ],
                    options={
                        "db_table": "audit_postmortem",
                        "permissions": [("edit_postmortem", "Can write and edit postmortems")],
                    },
                ),
                migrations.CreateModel(
                    name="PostmortemVersion",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("number", models.PositiveIntegerField()),
                        ("body", models.TextField()),
                        ("created_at", models.DateTimeField()),
                        ("created_by_name", models.CharField(blank=True, max_length=150)),
                        ("note", models.CharField(blank=True, help_text="What this version changed",
                                                  max_length=300)),
                        ("created_by", models.ForeignKey(blank=True, null=True,
                                                         on_delete=django.db.models.deletion.SET_NULL,
                                                         related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("postmortem", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                                         related_name="versions", to="history.postmortem")),
                    ],
                    options={
                        "db_table": "audit_postmortemversion",
                        "ordering": ["postmortem", "-number"],
                    },
                ),
                migrations.AddField(
                    model_name="postmortem",
                    name="latest",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                            related_name="+", to="history.postmortemversion"),
                ),
                migrations.AddConstraint(
                    model_name="postmortemversion",
                    constraint=models.UniqueConstraint(fields=("postmortem", "number"),
                                                       name="postmortem_version_unique"),
                ),
            ],
        ),
        migrations.RunPython(adopt_content_types, return_content_types),
    ]
