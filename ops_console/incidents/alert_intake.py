"""Receiving an Alertmanager delivery: validated and stored before anything
else (a 400 or a 503 is decided first), with a bit for each partition its
alerts fall in, then applied at once when the console is quiet (200, with what
it did) or left to the partitions' appliers (202: stored, queued). Applying,
the partitions and their locks are alert_queue.py's."""
import logging

from django.db import Error as DatabaseError  # InterfaceError too: a connection that died mid-request
from django.db import connection
from django.utils import timezone

from . import alert_queue, ingest
from .alert_queue import MAX_PARTITIONS, SOURCE, Outcome, Queued
from .models import AlertRouting, WebhookPayload

logger = logging.getLogger(__name__)


def receive(body, *, token, remote_addr=None):
    """One authenticated delivery: (http_status, response_dict)."""
    if len(body) > ingest.MAX_BODY_BYTES:
        return ingest.refuse_too_large(SOURCE, body, len(body), token=token, remote_addr=remote_addr)
    try:
        alerts = ingest.parse_alertmanager(body)
    except ingest.PayloadError as exc:
        stored = WebhookPayload.objects.create(source=SOURCE, body=ingest.stored_text(body), error=str(exc),
                                               outcome=WebhookPayload.Outcome.INVALID, token=token,
                                               remote_addr=remote_addr)
        return 400, {"error": str(exc), "payload": stored.pk}
    try:
        current = alert_queue.partitioning()
        pending = current.mask(alerts)
        if not pending:  # no alert: nothing to apply or to wait for
            summary = ingest.Tally().of(None)
            payload = WebhookPayload.objects.create(
                source=SOURCE, body=ingest.stored_text(body), outcome=WebhookPayload.Outcome.ACCEPTED,
                summary=summary, processed_at=timezone.now(), token=token, remote_addr=remote_addr)
            return 200, {"status": "ok", "payload": payload.pk, **summary}
        payload, older, dedup_labels = _store(ingest.stored_text(body), token, remote_addr, pending, current)
    except DatabaseError:  # ours, not the sender's: 5xx so Alertmanager sends it again
        logger.exception("storing an Alertmanager delivery failed")
        return 503, {"error": "temporary failure; please retry"}
    outcome = Outcome()
    try:
        _apply_if_first(payload, alerts, outcome, older, dedup_labels)
    except DatabaseError:  # stored: the worker applies it once the database is back
        logger.exception("applying an Alertmanager delivery failed; it stays queued")
    if payload.pk in outcome.applied:
        return 200, {"status": "ok", "payload": payload.pk, **outcome.applied[payload.pk]}
    # Older deliveries wait, an applier holds a lock, or applying ours failed
    # once: the worker applies it, in order (and retries it).
    return 202, {"status": "queued", "payload": payload.pk}


def _store(body, token, remote_addr, pending, current):
    """Store a delivery, queued, and look around in the same statement (one
    round trip on the storm's path): (the payload, the partitions in which an
    older delivery waits, the dedup labels in force)."""
    table, now = WebhookPayload._meta.db_table, timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH stored AS (
                  INSERT INTO {table} (source, received_at, body, outcome, error, summary, token_id, remote_addr,
                                       attempts, processed_at, pending, partitioning)
                  VALUES (%s, %s, %s, %s, '', '{{}}'::jsonb, %s, %s::inet, 0, NULL, %s, %s) RETURNING id, pending)
                SELECT stored.id, ({_older("stored")}), ({_DEDUP_LABELS}) FROM stored""",
            [SOURCE, now, body, Queued, token.pk if token else None, remote_addr or None, pending, str(current),
             Queued, str(current)])
        pk, older, dedup_labels = cursor.fetchone()
    payload = WebhookPayload(pk=pk, source=SOURCE, received_at=now, body=body, outcome=Queued, token=token,
                             remote_addr=remote_addr, pending=pending, partitioning=str(current))
    payload._state.adding = False
    return payload, older, dedup_labels


def _older(row):
    """SQL for the partitions of `row` (a name with .id and .pending) in which
    an older delivery waits; one stored under another partitioning waits in
    front of every partition. Parameters: the queued outcome, the partitioning
    in force. Asked once per partition, each walking the (outcome, id) index back
    from the row and stopping at the first in the way: in a storm that is the
    row just before, where adding up the whole queue grew with it, and where
    walking from the oldest end went over every entry the deliveries applied
    since the last vacuum left there (1.2 ms with a few thousand). A scalar
    subquery with its LIMIT, not EXISTS: the planner makes an EXISTS a join
    that reads the whole queue."""
    return (f"SELECT COALESCE(bit_or(1 << p), 0) FROM generate_series(0, {MAX_PARTITIONS - 1}) AS p "
            f"WHERE {row}.pending & (1 << p) <> 0 AND (SELECT q.id FROM {WebhookPayload._meta.db_table} q "
            f"WHERE q.outcome = %s AND q.id < {row}.id AND (q.pending & (1 << p) <> 0 OR q.partitioning <> %s) "
            f"ORDER BY q.id DESC LIMIT 1) IS NOT NULL")


_DEDUP_LABELS = f"SELECT dedup_labels FROM {AlertRouting._meta.db_table} WHERE id = 1"


def _apply_if_first(payload, alerts, outcome, older, dedup_labels):
    """Apply the delivery now if nothing older waits in its partitions and
    nobody holds their locks; otherwise leave it to the holder or the worker."""
    current = alert_queue.remember(dedup_labels)
    if str(current) != payload.partitioning:  # read a moment before the routing changed
        if not _store_again(payload, current, alerts):
            return  # an applier of every partition has it already
        older, _ = _look_around(payload)
    if older & payload.pending:
        # The storm's usual answer, in one query: whoever applies the older
        # deliveries goes on until the partition is empty, and so comes to ours;
        # a partition of ours where nothing older waits is rung for.
        if idle := payload.pending & ~older:
            alert_queue.ring_bell(alert_queue.partitions(idle))
        return
    alert_queue.apply_now(payload, alerts, outcome)


def _look_around(payload):
    """(the partitions in which an older delivery waits, the dedup labels in force)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ({_older('mine')}), ({_DEDUP_LABELS}) FROM (SELECT %s::bigint AS id, "
                       f"%s::int AS pending) AS mine", [Queued, payload.partitioning, payload.pk, payload.pending])
        return cursor.fetchone()


def _store_again(payload, current, alerts):
    """The delivery's partitions under the partitioning in force, unless an
    applier (one that read the routing before it changed) applied a part of
    it meanwhile. Returns whether it was stored again."""
    pending = current.mask(alerts)
    updated = WebhookPayload.objects.filter(pk=payload.pk, outcome=Queued, partitioning=payload.partitioning,
                                            pending=payload.pending).update(pending=pending,
                                                                            partitioning=str(current))
    payload.pending, payload.partitioning = pending, str(current)
    return bool(updated)
