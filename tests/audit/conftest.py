"""Builders for the audit tests."""
import pytest

from ops_console.audit.log import record


@pytest.fixture
def entries(db):
    """entries(n) -> n audit entries recorded in order (oldest first)."""

    def make(n, action="thing.changed", **kw):
        return [record(action, object_type="test.thing", object_id=str(i), object_repr=f"thing {i}",
                       before={"n": i}, after={"n": i + 1}, **kw) for i in range(n)]

    return make


@pytest.fixture(autouse=True)
def chain_key(settings, tmp_path):
    """Every audit test seals with a key file of its own (0600, as the standalone
    command makes it) and witnesses into its own file; returns the key."""
    import secrets

    path = tmp_path / "audit_chain_key"
    path.write_text(secrets.token_urlsafe(32) + "\n")
    path.chmod(0o600)
    settings.AUDIT_CHAIN_KEY = ""
    settings.AUDIT_CHAIN_KEY_FILE = str(path)
    settings.AUDIT_WITNESS_FILE = str(tmp_path / "witness" / "audit_witness.jsonl")
    settings.AUDIT_WITNESS_URL = ""
    return path.read_text().strip().encode()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Each signed-in test user costs a full PBKDF2 hash otherwise (most of a test's time here).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def legacy_entries(db):
    """legacy_entries(n) -> n entries as they were written before sealing (plain SHA-256, no seal)."""
    from django.utils import timezone

    from ops_console.audit.models import GENESIS, AuditEntry, ChainHead

    def make(n):
        head = ChainHead.objects.get_or_create(pk=1, defaults={"last_hash": GENESIS})[0]
        made = []
        for i in range(n):
            entry = AuditEntry(created_at=timezone.now(), action="old.thing", object_repr=f"old {i}",
                               prev_hash=made[-1].hash if made else head.last_hash)
            entry.hash = entry.compute_hash()
            entry.save()
            made.append(entry)
        ChainHead.objects.filter(pk=1).update(last_hash=made[-1].hash)
        return made

    return make
