"""Postmortems moved from audit to history by state-only migrations: the tables
stay, nothing is missing from the migrations, and a database migrated before the
move comes through it with its postmortems and their permissions."""
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ops_console.history.models import Postmortem
from ops_console.history.postmortems import do_save_postmortem

from . import builders

BEFORE = [("audit", "0007_sealed_entries_and_witness"), ("history", None)]


def test_the_models_match_the_migrations(db):
    out = io.StringIO()
    call_command("makemigrations", "history", "audit", check=True, dry_run=True, stdout=out)


def test_the_tables_keep_their_names():
    assert Postmortem._meta.db_table == "audit_postmortem"
    assert Postmortem.versions.rel.related_model._meta.db_table == "audit_postmortemversion"


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_move_keeps_its_postmortems_and_permissions(make_user):
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    inc = builders.incident("Moved with its postmortem")
    do_save_postmortem(inc, "# Kept", acting_user=make_user("commander"))
    edit = Permission.objects.get(codename="edit_postmortem")
    try:
        _migrate(BEFORE)
        ContentType.objects.clear_cache()
        assert ContentType.objects.get(pk=edit.content_type_id).app_label == "audit"
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM audit_postmortemversion")
            assert cursor.fetchone()[0] == 1
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
        ContentType.objects.clear_cache()
    assert Permission.objects.get(pk=edit.pk).content_type.app_label == "history"
    assert Postmortem.objects.get(incident=inc).latest.body == "# Kept"
