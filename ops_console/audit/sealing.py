"""The key that seals audit entries (HMAC-SHA256). It lives outside the
database, so whoever can edit the table cannot recompute a sealed entry's hash.

Keys come from AUDIT_CHAIN_KEY or the file AUDIT_CHAIN_KEY_FILE: one or more,
separated by whitespace, oldest first. An entry records the number of the key
that sealed it (1 for the first); new entries use the newest. Rotating the key
means appending a new one and keeping the old ones, which still verify the
entries they sealed."""
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

log = logging.getLogger(__name__)

MIN_KEY_LENGTH = 32
_SETTINGS = ("AUDIT_CHAIN_KEY", "AUDIT_CHAIN_KEY_FILE")
# Read once per process: record() is on every hot path. Each key as an HMAC
# object that only needs copy() per entry.
_macs = None


class MissingKey(ImproperlyConfigured):
    pass


def digest(content, seal):
    """The hash of an entry's canonical content (bytes): HMAC-SHA256 with key
    number `seal`, or plain SHA-256 for entries written before sealing (None)."""
    if seal is None:
        return hashlib.sha256(content).hexdigest()
    macs = _macs or _load(create=False)
    if not 0 < seal <= len(macs):
        raise MissingKey(f"audit entries sealed with key {seal} need that key; the chain key has "
                         f"{len(macs)} (AUDIT_CHAIN_KEY or {settings.AUDIT_CHAIN_KEY_FILE})")
    mac = macs[seal - 1].copy()
    mac.update(content)
    return mac.hexdigest()


def current_seal():
    """The number of the key new entries are sealed with; makes the key file
    on first use when neither AUDIT_CHAIN_KEY nor the file is there."""
    return len(_macs or _load(create=True))


def key_count():
    """How many keys verify_audit_log can use (MissingKey when there is none)."""
    return len(_macs or _load(create=False))


def _load(*, create):
    global _macs
    keys = _read(create=create)
    _macs = [hmac.new(key, digestmod=hashlib.sha256) for key in keys]
    return _macs


def _read(*, create):
    text, source = settings.AUDIT_CHAIN_KEY, "AUDIT_CHAIN_KEY"
    if not text:
        path = Path(settings.AUDIT_CHAIN_KEY_FILE)
        source = str(path)
        if not path.exists() and create:
            _create(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise MissingKey(f"the audit chain key is missing: set AUDIT_CHAIN_KEY or put the key file at {path} "
                             "(AUDIT_CHAIN_KEY_FILE); see docs/operations.md, \"Auditing the audit log\"") from None
        except OSError as exc:
            raise MissingKey(f"the audit chain key file {path} cannot be read: {exc}") from exc
    keys = text.split()
    if not keys:
        raise MissingKey(f"the audit chain key in {source} is empty")
    if any(len(key) < MIN_KEY_LENGTH for key in keys):
        raise ImproperlyConfigured(f"each audit chain key in {source} needs at least {MIN_KEY_LENGTH} characters")
    return [key.encode() for key in keys]


def _create(path):
    """A new random key, 0600. Made beside the file and linked into place, so
    processes starting at once agree on one key: the first link wins."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)
            log.warning("made a new audit chain key in %s: keep a copy apart from the database's backups "
                        "(docs/operations.md, \"Auditing the audit log\")", path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    except OSError as exc:
        raise MissingKey(f"the audit chain key file {path} does not exist and cannot be made ({exc}): "
                         "set AUDIT_CHAIN_KEY or AUDIT_CHAIN_KEY_FILE") from exc


@receiver(setting_changed, dispatch_uid="audit_chain_key_changed")
def _forget_keys(setting, **kwargs):
    global _macs
    if setting in _SETTINGS:
        _macs = None


@checks.register(checks.Tags.security, deploy=True)
def check_chain_key(**kwargs):
    """manage.py check --deploy: a production console has its key before the first entry."""
    if settings.AUDIT_CHAIN_KEY or Path(settings.AUDIT_CHAIN_KEY_FILE).exists():
        return []
    return [checks.Error(f"no audit chain key: AUDIT_CHAIN_KEY is empty and {settings.AUDIT_CHAIN_KEY_FILE} does "
                         "not exist, so the first audit entry would make a key on whichever host writes first",
                         hint="Set AUDIT_CHAIN_KEY (the same on every host), or AUDIT_CHAIN_KEY_FILE, and keep a copy "
                              "apart from the database's backups.", id="audit.E001")]
