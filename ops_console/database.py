"""Database calls that outlast a blip (a PostgreSQL restart or failover drops
every open connection; a worker in the middle of a step reconnects and carries
on instead of failing the step or reporting itself lost), and copy_create()
for the alert appliers' many new rows."""
import logging
import operator
import time

from django.db import InterfaceError, OperationalError, connection
from django.db.models import DateField, QuerySet

log = logging.getLogger(__name__)

BLIP_ERRORS = (OperationalError, InterfaceError)
COPY_FROM = 3  # rows; measured: one row 0.6 ms by INSERT against 0.8 ms by COPY, three rows 1.0 against 0.9 ms


def drop_broken_connection():
    """Close the connection if the last error left it unusable, so the next
    query opens a new one (Django only does this between requests and tasks)."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def outlasting_blips(call, *, retry_for, what="database call"):
    """call() again, on a new connection, while the database is unreachable,
    for up to retry_for seconds; then the last error is raised. Only for calls
    that are safe to repeat. Inside an outer transaction it calls once: a dropped
    connection has lost the outer transaction's work, which only its owner can redo."""
    if connection.in_atomic_block:
        return call()
    deadline = time.monotonic() + retry_for
    delay = 0.1
    while True:
        try:
            return call()
        except BLIP_ERRORS as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("%s failed (%s); trying again on a new connection in %.1f s", what, exc, delay)
            connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def copy_create(objs):
    """bulk_create() for rows made by the thousand (the incidents, timeline
    events, audit entries and escalations an alert storm opens): one COPY,
    whose rows psycopg formats in C, where bulk_create prepares each value
    through its field and quotes each column as an array in Python (about
    three quarters of an applier's CPU per alert went there). The objects'
    primary keys are taken from the table's sequence first, in one query, and
    set on them. For models whose fields take their values as set (defaults
    come from the constructor; auto_now dates are honoured); a conflict fails
    the whole COPY with IntegrityError, as bulk_create does without
    ignore_conflicts. Fewer than COPY_FROM rows go by bulk_create (of a plain
    queryset: the model's own may refuse it, as the audit log's does). Returns objs."""
    objs = list(objs)
    if not objs:
        return objs
    meta = type(objs[0])._meta
    if any(type(obj)._meta.concrete_model is not meta.concrete_model for obj in objs):
        raise TypeError("copy_create() takes objects of one model")
    if len(objs) < COPY_FROM:  # a COPY costs a round trip more than an INSERT: worth it from a few rows
        return QuerySet(meta.concrete_model).bulk_create(objs)
    fields = [field for field in meta.concrete_fields if not getattr(field, "generated", False)]
    with connection.wrap_database_errors, connection.cursor() as cursor:
        if missing := [obj for obj in objs if obj.pk is None]:
            cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
                           [_sequence_of(cursor, meta), len(missing)])
            for obj, (pk,) in zip(missing, cursor.fetchall()):
                obj.pk = pk
        columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        row_of = _rows_of(fields)
        with cursor.copy(f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_copy_type(cursor, field) for field in fields])
            for obj in objs:
                copy.write_row(row_of(obj))
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias
    return objs


_sequences = {}


def _sequence_of(cursor, meta):
    """The sequence of a table's primary key, looked up once per process: in
    nextval(pg_get_serial_sequence(...)) PostgreSQL looks it up again for every
    row, which made taking the ids cost ten times the ids themselves."""
    key = (meta.db_table, meta.pk.column)
    if key not in _sequences:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", list(key))
        _sequences[key] = cursor.fetchone()[0]
    return _sequences[key]


# Fields whose attribute is already what PostgreSQL takes (text, numbers, aware times, keys).
_AS_SET = {"AutoField", "BigAutoField", "SmallAutoField", "BigIntegerField", "BooleanField", "CharField",
           "DateTimeField", "ForeignKey", "IntegerField", "PositiveBigIntegerField", "PositiveIntegerField",
           "PositiveSmallIntegerField", "SlugField", "SmallIntegerField", "TextField"}


def _rows_of(fields):
    """obj -> the row COPY writes: every attribute read in one call, then the
    few fields that need preparing prepared (building the row field by field
    cost more than writing it)."""
    read = operator.attrgetter(*(field.attname for field in fields))
    prepared = [(n, prepare) for n, field in enumerate(fields) if (prepare := _prepare(field)) is not None]
    if not prepared:
        return read

    def row_of(obj):
        row = list(read(obj))
        for n, prepare in prepared:
            row[n] = prepare(obj, row[n])
        return row
    return row_of


def _prepare(field):
    """(obj, its attribute) -> the value COPY writes, for a field whose attribute is not that already."""
    if isinstance(field, DateField) and (field.auto_now or field.auto_now_add):
        return lambda obj, value: field.pre_save(obj, add=True)
    if field.get_internal_type() in _AS_SET:
        return None
    # JSON (psycopg's Jsonb, with the field's encoder), addresses, UUIDs...: as bulk_create prepares them.
    return lambda obj, value: field.get_db_prep_save(value, connection)


def _copy_type(cursor, field):
    """The column's PostgreSQL type, as the binary COPY needs it given: psycopg
    writes each value in that type's own format, which PostgreSQL reads without
    parsing text (a fifth less of its time for an alert storm's rows)."""
    name = field.db_type(connection).split("(")[0].strip()
    return cursor.connection.adapters.types[name].oid
