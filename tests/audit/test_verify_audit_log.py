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


# --- the seal and the witness: a chain that cannot be rewritten quietly ----------

def run_verify_with(witness_file):
    from io import StringIO

    out = StringIO()
    call_command("verify_audit_log", stdout=out, chunk_size=7, witness=str(witness_file))
    return out.getvalue()


def rewrite_from(entry_id, forge, *, unseal=False):
    """The attacker with database superuser: switch every trigger off, edit the entry,
    recompute its hash and every later one and the head with `forge(content, seal)`,
    switch the triggers on. unseal: also mark the rewritten entries as written before sealing."""
    from ops_console.audit.models import GENESIS, HASHED_FIELDS, AuditEntry, content_of

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER ALL")
        cursor.execute("UPDATE audit_auditentry SET action = 'forged' WHERE id = %s", [entry_id])
        prev = (AuditEntry.objects.filter(id__lt=entry_id).order_by("-id").values_list("hash", flat=True).first()
                or GENESIS)
        rows = AuditEntry.objects.filter(id__gte=entry_id).order_by("id").values_list("id", "seal", *HASHED_FIELDS)
        for row in list(rows):
            values = {**dict(zip(HASHED_FIELDS, row[2:])), "prev_hash": prev}
            seal = None if unseal else row[1]
            prev = forge(content_of(values).encode(), seal)
            cursor.execute("UPDATE audit_auditentry SET prev_hash = %s, hash = %s, seal = %s WHERE id = %s",
                           [values["prev_hash"], prev, seal, row[0]])
        cursor.execute("UPDATE audit_chainhead SET last_hash = %s", [prev])
        cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER ALL")


def plain_sha256(content, seal):
    import hashlib

    return hashlib.sha256(content).hexdigest()


def wrong_key(content, seal):
    import hashlib
    import hmac

    return hmac.new(b"a-key-the-attacker-guessed-0123456789", content, hashlib.sha256).hexdigest()


@pytest.fixture
def witnessed_chain(entries, settings):
    """60 entries, the head witnessed after 40 and after 60; returns (entries, witness file)."""
    from pathlib import Path

    from ops_console.audit.tasks import witness_chain_head

    made = entries(40)
    witness_chain_head()
    made += entries(20)
    witness_chain_head()
    return made, Path(settings.AUDIT_WITNESS_FILE)


def test_a_clean_chain_verifies_with_its_witness(witnessed_chain):
    made, witness_file = witnessed_chain
    output = run_verify_with(witness_file)
    assert "audit log OK: 60 entries verified" in output and "60 sealed with the chain key" in output
    assert f"witness OK: 2 heads in {witness_file}" in output and f"nothing up to entry {made[-1].pk}" in output


@pytest.mark.parametrize("forge, unseal, found", [
    (plain_sha256, False, r"was changed after it was written \(its seal does not match the chain key\)"),
    (plain_sha256, True, "carries no seal, yet entries from .* on are sealed"),
    (wrong_key, False, r"was changed after it was written \(its seal does not match the chain key\)"),
], ids=["sha256", "sha256-seal-removed", "wrong-key"])
def test_a_rewritten_chain_names_the_first_changed_entry(witnessed_chain, forge, unseal, found):
    """Entry 30 edited, 30..60 and the head recomputed without the key: the links
    all hold, but the seal of the first changed entry does not."""
    made, witness_file = witnessed_chain
    rewrite_from(made[29].pk, forge, unseal=unseal)
    with pytest.raises(CommandError, match=f"entry {made[29].pk} {found}") as failure:
        run_verify_with(witness_file)
    assert failure.value.returncode == 1


def test_a_rewrite_with_the_key_is_caught_by_the_witness(witnessed_chain, chain_key):
    """Someone holding the key reseals everything; the witnessed heads still differ."""
    import hashlib
    import hmac

    made, witness_file = witnessed_chain
    rewrite_from(made[29].pk, lambda content, seal: hmac.new(chain_key, content, hashlib.sha256).hexdigest())
    assert "audit log OK" in run_verify()  # without the witness the forgery passes...
    with pytest.raises(CommandError, match=f"entry {made[39].pk} is not as witnessed .* an entry up to it "
                                           "was rewritten") as failure:
        run_verify_with(witness_file)  # ...the first witnessed head after it does not
    assert failure.value.returncode == 1


def test_removing_witnessed_entries_is_caught_by_the_witness(witnessed_chain):
    """The newest 25 entries deleted and the head set back: the chain itself is consistent."""
    made, witness_file = witnessed_chain
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER ALL")
        cursor.execute("DELETE FROM audit_auditentry WHERE id >= %s", [made[35].pk])
        cursor.execute("UPDATE audit_chainhead SET last_hash = %s", [made[34].hash])
        cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER ALL")
    assert "audit log OK" in run_verify()
    with pytest.raises(CommandError, match=f"entry {made[39].pk}, witnessed at .* is missing"):
        run_verify_with(witness_file)


def test_entries_written_before_sealing_still_verify(entries, legacy_entries):
    old = legacy_entries(3)
    new = entries(2)
    assert [e.seal for e in old] == [None] * 3 and [e.seal for e in new] == [1, 1]
    assert "5 entries verified" in run_verify()


def test_an_unsealed_entry_after_sealed_ones_is_refused(entries, legacy_entries):
    entries(2)
    late = legacy_entries(1)[0]
    with pytest.raises(CommandError, match=f"entry {late.pk} carries no seal"):
        run_verify()


def test_a_seal_number_without_a_key_is_named(entries):
    made = entries(3)
    tamper("UPDATE audit_auditentry SET seal = 7 WHERE id = %s", made[1].pk)
    with pytest.raises(CommandError, match=f"entry {made[1].pk} claims to be sealed with key 7"):
        run_verify()


def test_without_the_key_sealed_entries_cannot_be_verified(entries, settings, tmp_path):
    entries(2)
    settings.AUDIT_CHAIN_KEY_FILE = str(tmp_path / "elsewhere" / "audit_chain_key")
    with pytest.raises(CommandError, match="the audit chain key is missing") as failure:
        run_verify()
    assert failure.value.returncode == 2
    assert not (tmp_path / "elsewhere").exists()  # the verifier never makes a key of its own


def test_an_unreadable_witness_file_is_not_a_verdict(entries, tmp_path):
    entries(1)
    (tmp_path / "bad.jsonl").write_text('{"id": 1, "hash": "ab"}\nnot json\n')
    with pytest.raises(CommandError, match="line 2 of .* is not a witnessed head") as failure:
        run_verify_with(tmp_path / "bad.jsonl")
    assert failure.value.returncode == 2
