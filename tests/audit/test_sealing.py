"""The chain key: HMAC-SHA256 seals, a key file made 0600 on first use, keys rotated by appending."""
import hashlib
import hmac
import secrets
import stat

import pytest
from django.core.management import call_command

from ops_console.audit.chain import verify
from ops_console.audit.log import record
from ops_console.audit.models import AuditEntry


def test_entries_are_sealed_with_the_key(entries, chain_key):
    entry = entries(1)[0]
    assert entry.seal == 1
    assert entry.hash == hmac.new(chain_key, entry.content().encode(), hashlib.sha256).hexdigest()
    assert entry.hash != hashlib.sha256(entry.content().encode()).hexdigest()


def test_the_key_file_is_made_0600_on_the_first_entry(db, settings, tmp_path):
    path = tmp_path / "data" / "audit_chain_key"
    settings.AUDIT_CHAIN_KEY_FILE = str(path)
    entry = record("thing.done")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) >= 32 and entry.seal == 1
    assert list(path.parent.iterdir()) == [path]  # the draft it was linked from is gone
    assert verify().ok


def test_the_key_from_the_environment_comes_first(db, settings, chain_key):
    settings.AUDIT_CHAIN_KEY = "k" * 40
    entry = record("thing.done")
    assert entry.hash == hmac.new(b"k" * 40, entry.content().encode(), hashlib.sha256).hexdigest()


def test_a_short_key_is_refused(db, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.AUDIT_CHAIN_KEY = "too-short"
    with pytest.raises(ImproperlyConfigured, match="at least 32 characters"):
        record("thing.done")


def test_a_rotated_key_seals_new_entries_and_the_old_one_still_verifies(entries, settings, chain_key):
    old = entries(2)
    with open(settings.AUDIT_CHAIN_KEY_FILE, "a") as keys:
        keys.write(secrets.token_urlsafe(32) + "\n")
    settings.AUDIT_CHAIN_KEY_FILE = settings.AUDIT_CHAIN_KEY_FILE  # a process reads its keys again when restarted
    new = entries(2)
    assert [e.seal for e in old + new] == [1, 1, 2, 2]
    assert verify().ok
    assert list(AuditEntry.objects.order_by("id").values_list("seal", flat=True)) == [1, 1, 2, 2]


def test_the_deploy_check_asks_for_a_key(db, settings, tmp_path):
    from django.core.management.base import SystemCheckError

    settings.AUDIT_CHAIN_KEY_FILE = str(tmp_path / "none")
    with pytest.raises(SystemCheckError, match="audit.E001"):
        call_command("check", "--deploy", "--tag", "security", "--fail-level", "ERROR")
