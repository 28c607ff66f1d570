"""The append-only, hash-chained audit log. Each entry's hash is sealed with
a key kept outside the database (sealing.py); entries written before sealing
keep their plain SHA-256."""
import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from ops_console.database import copy_create

from . import sealing

GENESIS = "0" * 64
# The fields the hash covers, in the order verify_audit_log reads them.
HASHED_FIELDS = ("created_at", "actor_id", "actor_name", "ip", "request_id", "action", "object_type", "object_id",
                 "object_repr", "before", "after", "prev_hash")


class AppendOnlyError(Exception):
    pass


def content_of(values):
    """Canonical JSON of an entry's hashed fields (a dict with HASHED_FIELDS)."""
    data = dict(values)
    data["created_at"] = data["created_at"].isoformat()
    return json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":"))


def hash_of(values, seal=None):
    """The entry's hash: sealed with key number `seal`, or plain SHA-256 (None)."""
    return sealing.digest(content_of(values).encode(), seal)


class AuditEntryQuerySet(models.QuerySet):
    """Bulk changes are refused like single ones; PostgreSQL's trigger backs this up."""

    def update(self, **kwargs):
        raise AppendOnlyError("audit entries cannot be changed")

    def delete(self):
        raise AppendOnlyError("audit entries cannot be deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("audit entries cannot be changed")

    def bulk_create(self, objs, *args, **kwargs):
        # Entries join the chain under its lock: only audit.log (record, record_many) appends.
        raise AppendOnlyError("audit entries are appended with audit.log.record()")

    def append(self, entries):
        """For audit.log.record_many only: entries it chained under the head's lock, in one INSERT."""
        return copy_create(entries)

    def _update(self, values):
        raise AppendOnlyError("audit entries cannot be changed")

    def _raw_delete(self, using):
        raise AppendOnlyError("audit entries cannot be deleted")


class AuditEntry(models.Model):
    created_at = models.DateTimeField(db_index=True)
    # DO_NOTHING without a constraint: deleting a user must not rewrite (and so
    # break) the entries it made; actor_name keeps who it was.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, db_index=True)
    object_id = models.CharField(max_length=100, blank=True, db_index=True)
    object_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # Outside the hashed fields: another number, or none after sealed entries, fails verification all the same.
    # Nullable without a default, so adding it rewrote no row (the table is append-only).
    seal = models.SmallIntegerField(
        null=True, blank=True, help_text="The number of the chain key that sealed the hash (HMAC-SHA256); "
                                         "empty: written before entries were sealed (plain SHA-256)")

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        permissions = [("export_auditentry", "Can export the audit log")]
        indexes = [models.Index(fields=["object_type", "object_id", "id"], name="audit_object_idx")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name or 'system'} {self.action} {self.object_repr}"

    def hashed_values(self):
        return {name: getattr(self, name) for name in HASHED_FIELDS}

    def content(self):
        """The fields the hash covers, in a canonical JSON form."""
        return content_of(self.hashed_values())

    def compute_hash(self):
        return hash_of(self.hashed_values(), self.seal)

    def diff(self):
        """[(key, before, after)] for every key that changed, keys in order."""
        before = self.before if isinstance(self.before, dict) else ({} if self.before is None else {"": self.before})
        after = self.after if isinstance(self.after, dict) else ({} if self.after is None else {"": self.after})
        missing = object()
        rows = []
        for key in sorted(set(before) | set(after)):
            old, new = before.get(key, missing), after.get(key, missing)
            if old != new:
                rows.append((key, None if old is missing else old, None if new is missing else new))
        return rows

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit entries cannot be deleted")


class ChainHead(models.Model):
    """One row, locked while an entry is appended, so concurrent writers form
    one linear chain instead of forking it."""

    last_hash = models.CharField(max_length=64, default=GENESIS)


class ChainWitness(models.Model):
    """One row: the newest head the witness task wrote out (witness.py), so it
    writes only when the head moved and /metrics can tell when it last did.
    The proof is the witness file kept elsewhere, never this row."""

    entry_id = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, blank=True)
    witnessed_at = models.DateTimeField(null=True, blank=True)
