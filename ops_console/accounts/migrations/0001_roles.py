"""Create the four role groups. Their permissions are synced after migrate
(roles.sync_roles), because apps migrated later add permissions of their own."""
from django.db import migrations

ROLES = ("responder", "commander", "auditor", "admin")


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
