"""manage.py verify_audit_log finds an entry edited in the database behind the application's back."""
import pytest
from django.core.management import CommandError, call_command
from django.db import connection


def tamper(sql, *params):
    """What an attacker with database access does: switch the trigger off, edit, switch it on."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_auditentry_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_auditentry_append_only")


def run_verify():
    from io import StringIO

    out = StringIO()
    call_command("verify_audit_log", stdout=out, chunk_size=2)
    return out.getvalue()


def test_an_intact_log_verifies(entries):
    made = entries(5)
    output = run_verify()
    assert "audit log OK: 5 entries verified" in output and f"{made[0].pk}..{made[-1].pk}" in output


def test_an_empty_log_verifies(db):
    assert "0 entries verified" in run_verify()


def test_an_edited_entry_is_named(entries):
    made = entries(5)
    tamper("UPDATE audit_auditentry SET after = '{\"n\": 99}' WHERE id = %s", made[2].pk)
    with pytest.raises(CommandError, match=f"entry {made[2].pk} was changed") as failure:
        run_verify()
    assert failure.value.returncode == 1


def test_a_deleted_entry_is_found(entries):
    made = entries(5)
    tamper("DELETE FROM audit_auditentry WHERE id = %s", made[1].pk)
    with pytest.raises(CommandError, match=f"entry {made[2].pk} does not follow"):
        run_verify()


def test_a_recomputed_hash_is_found_at_the_next_entry(entries):
    """Rewriting an entry and its own hash still breaks the link to the entry after it."""
    made = entries(4)
    forged = made[1]
    forged.action = "forged"
    tamper("UPDATE audit_auditentry SET action = 'forged', hash = %s WHERE id = %s", forged.compute_hash(), forged.pk)
    with pytest.raises(CommandError, match=f"entry {made[2].pk} does not follow"):
        run_verify()


def test_removing_the_newest_entries_is_found(entries):
    made = entries(3)
    tamper("DELETE FROM audit_auditentry WHERE id = %s", made[2].pk)
    with pytest.raises(CommandError, match="newest entries are missing"):
        run_verify()
