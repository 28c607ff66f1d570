"""record(): the one way to write the audit log, each entry chained to the one
before and sealed with the chain key; atomic(): the transaction to call it in
when the change it describes locks rows of its own."""
import functools
import ipaddress
import json
import math
import threading
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from . import context, sealing
from .models import GENESIS, AuditEntry, ChainHead

__all__ = ["atomic", "creating", "chained_at_end", "record", "record_many", "GENESIS"]

# The entries of the open chained_at_end() block of this thread (None: no block).
_deferred = threading.local()


def atomic(func=None):
    """transaction.atomic() whose first lock is the chain's head; use it (as a
    decorator or a `with` block) for every change that locks rows and records.

    Every entry is written under the lock of the single head row, held until
    commit. A writer that locked a row first and then waits for the head, while
    the head's holder waits for that row, deadlocks; so the head is taken before
    anything else, by everyone, and this is the one place that takes it. Writers
    are serialised from their start rather than from their first entry: the
    price of an order no caller has to remember. Nested in a transaction that
    has locked rows already it cannot come first: begin the transaction with it.
    The one exception is a writer that only creates rows: creating() inside
    chained_at_end() takes the head at the end instead. Another transaction
    waits for rows not committed yet only to insert the same unique key (an
    event opening the very dedup key an applier is opening); in that rare
    cycle PostgreSQL's deadlock check fails one of the two, which is retried."""
    if func is not None:
        @functools.wraps(func)
        def chained(*args, **kwargs):
            with _chain_first():
                return func(*args, **kwargs)
        return chained
    return _chain_first()


@contextmanager
def _chain_first():
    with transaction.atomic():
        _lock_head()
        yield


def creating(func):
    """atomic() for an action that only creates rows (and reads): opening
    incidents. Inside a chained_at_end() block it leaves the chain's head for
    the block's end, and forgets its entries if it fails; anywhere else it is
    atomic()."""
    @functools.wraps(func)
    def chained(*args, **kwargs):
        entries = getattr(_deferred, "entries", None)
        if entries is None:
            with _chain_first():
                return func(*args, **kwargs)
        kept = len(entries)
        _deferred.creating = getattr(_deferred, "creating", 0) + 1
        try:
            with transaction.atomic():
                return func(*args, **kwargs)
        except BaseException:
            del entries[kept:]  # rolled back with its savepoint
            raise
        finally:
            _deferred.creating -= 1
    return chained


@contextmanager
def chained_at_end():
    """A block (a transaction, or a savepoint) whose audit entries join the
    chain when it ends: the head is locked then, not from the start, so two
    writers creating rows (two alert appliers opening incidents) work side by
    side and queue only for the append and their commit. Only creating()
    actions may record inside it; after the block, end the transaction soon
    (the head is held until commit), and lock existing rows only after it, as
    atomic() orders it. Nested, the outermost block appends."""
    if getattr(_deferred, "entries", None) is not None:
        yield
        return
    _deferred.entries = []
    try:
        with transaction.atomic():
            yield
            entries, _deferred.entries = _deferred.entries, None
            if entries:
                _append(entries)
    finally:
        _deferred.entries = None


_READ_HEAD = f'SELECT "last_hash" FROM "{ChainHead._meta.db_table}" WHERE "id" = 1'


def _lock_head():
    """The head row, locked for the rest of the transaction (made on first use).
    One plain statement: every audited change and every finished step takes
    this lock, most of them without recording anything, and through a queryset
    it took 0.4 ms where the statement alone takes 0.17."""
    with connection.cursor() as cursor:
        # FOR UPDATE where the database has it, as select_for_update() does: SQLite
        # (a standalone's database before PostgreSQL, read by its import) has not.
        cursor.execute(_READ_HEAD + (" FOR UPDATE" if connection.features.has_select_for_update else ""))
        row = cursor.fetchone()
    if row is None:
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"last_hash": GENESIS})
        return head
    head = ChainHead(pk=1, last_hash=row[0])
    head._state.adding, head._state.db = False, connection.alias
    return head


def _plain(value):
    """JSON-safe copy (dates, decimals, UUIDs become strings) so the stored
    value and the hashed value are the same."""
    if value is None:
        return None
    return _numbers_as_stored(json.loads(json.dumps(value, cls=DjangoJSONEncoder)))


def _numbers_as_stored(value):
    """Floats as PostgreSQL's jsonb gives them back: it keeps numbers as decimals,
    so 1e16 returns as the integer 10000000000000000, and NaN cannot be stored."""
    if isinstance(value, dict):
        return {key: _numbers_as_stored(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers_as_stored(item) for item in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) >= 1e16:
            return int(value)
        return value + 0.0  # -0.0 becomes 0.0
    return value


def _ip(value):
    """The address as the database will give it back (IPv6 compressed), so the
    hash computed now matches the one verify_audit_log computes later."""
    if not value:
        return None
    value = str(value).strip()
    try:
        return clean_ipv6_address(value) if ":" in value else str(ipaddress.IPv4Address(value))
    except (ValueError, ValidationError):
        # Not an address (a proxy's "unknown"): record none rather than fail the change.
        return None


def record(action, *, obj=None, actor=None, before=None, after=None, object_type="", object_id="",
           object_repr="", ip=None, request_id=None):
    return record_many([dict(action=action, obj=obj, actor=actor, before=before, after=after,
                             object_type=object_type, object_id=object_id, object_repr=object_repr, ip=ip,
                             request_id=request_id)])[0]


def record_many(changes):
    """record() for several changes at once (a webhook delivery opening fifty
    incidents): each change gets its own entry, chained in order, under one
    lock of the chain head and in one INSERT. `changes`: dicts of record()'s
    keyword arguments plus "action". Returns the entries."""
    if not changes:
        return []
    ctx = context.current()
    seal = sealing.current_seal()
    entries = [_entry(ctx, seal=seal, **change) for change in changes]
    deferred = getattr(_deferred, "entries", None)
    if deferred is not None:  # chained_at_end(): chained and saved when the block ends
        if not getattr(_deferred, "creating", 0):
            # Only a creating() action forgets its entries when its savepoint rolls back.
            raise RuntimeError("inside audit.chained_at_end() only creating() actions may record")
        deferred.extend(entries)
        return entries
    _append(entries)
    return entries


def _append(entries):
    """Chain the entries after the head, in order, and save them in one INSERT."""
    with transaction.atomic():
        # The lock on the single head row orders concurrent writers: each reads
        # the hash the previous one committed, so the chain never forks.
        head = _lock_head()
        for entry in entries:
            entry.prev_hash = head.last_hash
            entry.hash = head.last_hash = entry.compute_hash()
        if len(entries) == 1:
            entries[0].save()
        else:
            AuditEntry.objects.append(entries)
        head.save(update_fields=["last_hash"])


def _entry(ctx, *, action, seal, obj=None, actor=None, before=None, after=None, object_type="",
           object_id="", object_repr="", ip=None, request_id=None):
    if actor is None and ctx is not None and getattr(ctx.user, "is_authenticated", False):
        actor = ctx.user
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:300]
    entry = AuditEntry(
        created_at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=(getattr(actor, "username", "") or "")[:150],
        ip=_ip(ip or (ctx.ip if ctx else None)),
        # Cut to the columns' sizes here, so what is hashed is what is stored.
        request_id=(request_id or (ctx.request_id if ctx else ""))[:64],
        action=str(action)[:100],
        object_type=str(object_type)[:100],
        object_id=str(object_id)[:100],
        object_repr=str(object_repr)[:300],
        before=_plain(before),
        after=_plain(after),
        seal=seal,
    )
    return entry  # unchained: _append() sets prev_hash and hash under the head's lock
