"""Alertmanager deliveries: stored first, then applied in the order they came,
by appliers that each own a share (a partition) of the dedup keys.

A delivery is validated and stored (alert_intake.py: a 400 or a 503 is
decided before anything else), with a bit for each partition its alerts fall
in. When the console is quiet its request then takes those partitions' locks
and applies it (apply_now), and answers 200 with what it did. In an alert
storm older deliveries wait: the request answers 202 at once (stored,
queued) and Celery workers apply the queue, one applier per partition, many
deliveries per transaction. So the fixed cost of a delivery is paid once per
batch, the web processes stay free to answer, the partitions are applied
side by side (each on a core, each at its own pace), and the order of firing
and resolved notices is kept for every dedup key because one applier at a
time works on a partition, oldest first. A delivery whose alerts span
partitions is applied part by part; it is "accepted" once its last part is.

A key's partition depends on the dedup labels and the number of appliers. A
delivery stored under other ones (the routing was changed, or a process read
it a moment before) is applied by an applier holding every partition's lock,
after everything older and before everything younger: the single applier of
old, for as long as such deliveries wait.

Nothing is lost between the two steps: whoever held a partition's lock looks
at it again after releasing it (a delivery stored meanwhile was either seen
then or stored by a request that could take the lock itself, or rang) and
rings for the worker if anything is left; the beat schedule drains every
partition every few seconds in case that message was lost."""
import json
import logging
import time
import zlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Min
from django.utils import timezone

from ops_console.audit import log as audit
from ops_console.audit.log import record

from . import ingest
from .models import AlertRouting, WebhookPayload

SOURCE = "alertmanager"
BATCH_DELIVERIES = 200
BATCH_ALERTS = 1000  # alerts per transaction: large enough to share the cost, short enough not to block others
MAX_ATTEMPTS = 3
LOCK_ID = 0x0C_A1E7  # with a partition's number: the PostgreSQL advisory lock of its applier
MAX_PARTITIONS = 16  # the locks an applier of deliveries stored under another partitioning takes
EVERY_PARTITION = (1 << MAX_PARTITIONS) - 1
ROUTING_TTL = 1.0  # seconds a request trusts the dedup labels it read (a stale read is applied alone, in order)
# A worker's applier waits this long after a batch of fewer alerts than this, so that in a
# storm of small deliveries the next batch shares its fixed cost (about 15 queries) among more
# of them, and the web processes keep the CPU meanwhile: at most this much later, in a storm
# only. Never after a batch of many alerts (deliveries of 50 alerts each fill one of 20):
# there is more waiting, and lingering would idle the core.
LINGER_SECONDS, SMALL_BATCH = 0.1, 50
# ... and hands its partition back to the queue after this long, so that the other tasks of
# the default queue (runbook steps) get their turn during a long storm.
SLICE_SECONDS = 10.0
Queued = WebhookPayload.Outcome.QUEUED
logger = logging.getLogger(__name__)


class Partitioning:
    """How dedup keys are spread over the appliers, stored on each delivery as
    "appliers:dedup labels" ("2:alertname,job"; "2:" when the key is the fingerprint)."""

    def __init__(self, count, labels):
        self.count, self.labels = count, list(labels)

    @classmethod
    def parse(cls, text):
        """None for a delivery stored before partitions (every alert of it is pending)."""
        count, sep, labels = (text or "").partition(":")
        if not sep or not count.isdigit():
            return None
        return cls(int(count), [name for name in labels.split(",") if name])

    def __str__(self):
        return f"{self.count}:{','.join(self.labels)}"

    def of(self, alert):
        # crc32, not hash(): every process must put a key in the same partition.
        return zlib.crc32(ingest.dedup_key(alert, self.labels).encode()) % self.count

    def mask(self, alerts):
        bits = 0
        for alert in alerts:
            bits |= 1 << self.of(alert)
        return bits


class StaleRouting(Exception):
    """The routing changed since the deliveries were claimed: claim them again."""


_read = (0.0, None)  # (monotonic time it expires, the Partitioning a request uses)


def partitioning(fresh=False):
    """The partitioning in force: the configured number of appliers and the
    routing's dedup labels, read again after ROUTING_TTL (or now, when fresh)."""
    if fresh or _read[1] is None or time.monotonic() > _read[0] or _read[1].count != settings.ALERT_APPLIERS:
        return remember(AlertRouting.objects.filter(pk=1).values_list("dedup_labels", flat=True).first())
    return _read[1]


def remember(dedup_labels):
    """The partitioning for dedup labels just read (a request reads them with its store)."""
    global _read
    current = Partitioning(settings.ALERT_APPLIERS, [name.strip() for name in (dedup_labels or "").split(",")
                                                     if name.strip()])
    _read = (time.monotonic() + ROUTING_TTL, current)
    return current


def partitions(bits):
    return [p for p in range(MAX_PARTITIONS) if bits >> p & 1]


class Outcome:
    """What an applier did: {payload id: summary} of the deliveries it applied
    (for a delivery spanning partitions, of the parts it applied)."""

    def __init__(self):
        self.applied = {}


def apply_now(payload, alerts, outcome):
    """Apply a delivery just stored, in the request that stored it, when
    nobody holds its partitions' locks (nothing older waits in them: the
    caller looked); otherwise ring for the worker, which applies it in order."""
    own = partitions(payload.pending)
    try:
        with transaction.atomic():
            if _try_lock(own):
                _apply_batch([payload], payload.pending, {payload.pk: alerts}, outcome,
                             expected=payload.partitioning)
    except StaleRouting:  # changed this very moment: the worker applies it
        pass
    finally:
        if payload.pk not in outcome.applied:  # a lock was busy, or applying failed: the worker's turn
            ring_bell(own)
    if payload.pk in outcome.applied and _waiting(payload.pending):
        ring_bell(own)  # stored behind ours while we held the locks


def drain(partition=None, *, linger=0.0):
    """The worker's job: apply a partition's queued deliveries, oldest first,
    until none is left, unless another holds its lock (it looks again after
    releasing it). Without a partition (beat, tests), every partition in turn.
    `linger`: seconds to wait after a small batch (LINGER_SECONDS in the worker).
    Returns how many deliveries this call applied (a part of one counts as one)."""
    if partition is None:
        return sum(drain(p, linger=linger) for p in range(settings.ALERT_APPLIERS))
    outcome, bit, started = Outcome(), 1 << partition, time.monotonic()
    while True:
        with transaction.atomic():
            if not _try_lock([partition]):
                break
            current = str(partitioning(fresh=True))
            batch = _claim(partition, current)
            try:
                _apply_batch(batch, bit, {}, outcome, expected=current)
            except StaleRouting:  # changed since the claim: they are claimed again, as stored under the old
                continue
        if batch:
            if time.monotonic() - started > SLICE_SECONDS:
                ring_bell([partition])  # the rest after the tasks queued meanwhile
                break
            if linger and batch.alerts < SMALL_BATCH:
                time.sleep(linger)
            continue
        if _stale_waiting(current):
            # Deliveries stored under another partitioning wait in front: once this
            # partition has applied what comes before them, apply them holding every lock.
            if _apply_stale(outcome):
                continue
        if not _claimable(partition, current):
            break
    return len(outcome.applied)


def _apply_stale(outcome):
    """Apply, holding every partition's lock, the oldest queued deliveries up
    to the last one stored under another partitioning (in full, keyed by the
    routing in force). Returns whether there were any."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Blocking, in order: a partition applier lets go after its batch, and this
            # is the only place that waits for an applier's lock, so nobody waits in a circle.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, p) FROM generate_series(0, %s) AS p",
                           [LOCK_ID, MAX_PARTITIONS - 1])
            cursor.fetchall()
        current = str(partitioning(fresh=True))
        last = (WebhookPayload.objects.filter(outcome=Queued).exclude(partitioning=current)
                .order_by("-pk").values_list("pk", flat=True).first())
        if last is None:
            return False
        batch = _batch(WebhookPayload.objects.filter(outcome=Queued, pk__lte=last))
        _apply_batch(batch, EVERY_PARTITION, {}, outcome)
    ring_bell()  # what waited behind them, in every partition
    return True


@audit.atomic
def do_apply_again(payload, *, acting_user):
    """Queue a delivery that was set aside as our error again (an admin, once
    the cause is fixed). Applied in order with the queue: the parts of it not
    applied yet, in their partitions."""
    if payload.source != SOURCE or payload.outcome != WebhookPayload.Outcome.ERROR:
        raise ValidationError("Only an Alertmanager delivery that failed on our side can be applied again.")
    before = {"outcome": payload.outcome, "attempts": payload.attempts, "error": payload.error}
    payload.outcome, payload.attempts, payload.processed_at = Queued, 0, None
    payload.save(update_fields=["outcome", "attempts", "processed_at"])
    record("webhook_payload.requeued", obj=payload, actor=acting_user, before=before,
           after={"outcome": payload.outcome})
    transaction.on_commit(ring_bell)
    return payload


def ring_bell(partitions_=None):
    """Ask a worker to drain these partitions (default: all). A lost message
    is not a lost alert: the beat schedule drains the queue too."""
    from .tasks import drain_alert_queue

    for partition in range(settings.ALERT_APPLIERS) if partitions_ is None else partitions_:
        try:
            drain_alert_queue.apply_async(args=[partition], retry=False)
        except Exception:  # the broker is down: the reconciler's turn comes when it is back
            logger.warning("could not reach the broker to drain the alert queue", exc_info=True)
            return


def backlog():
    """(queued deliveries, age in seconds of the oldest) for the intake page and /metrics."""
    queued = WebhookPayload.objects.filter(outcome=Queued).aggregate(count=Count("pk"), oldest=Min("received_at"))
    oldest = queued["oldest"]
    return queued["count"], (timezone.now() - oldest).total_seconds() if oldest else 0.0


def backlog_by_partition():
    """{partition: queued deliveries with alerts in it}: each applier's own progress, for /metrics."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT p, count(q.id) FROM generate_series(0, %s) AS p LEFT JOIN "
                       f"{WebhookPayload._meta.db_table} q ON q.outcome = %s AND q.pending & (1 << p) <> 0 "
                       f"GROUP BY p ORDER BY p", [settings.ALERT_APPLIERS - 1, Queued])
        return dict(cursor.fetchall())


def _try_lock(own):
    """The locks of these partitions for the rest of the transaction, if nobody holds any of them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT bool_and(pg_try_advisory_xact_lock(%s, p)) FROM unnest(%s::int[]) AS p",
                       [LOCK_ID, own])
        return cursor.fetchone()[0]


def _in_partition(partition, current):
    """Queued deliveries with alerts in the partition, stored under the partitioning in force."""
    return (WebhookPayload.objects.filter(outcome=Queued, partitioning=current)
            .alias(mine=F("pending").bitand(1 << partition)).filter(mine__gt=0))


def _before_stale(rows, current):
    """Those queued before the first delivery stored under another partitioning."""
    first = (WebhookPayload.objects.filter(outcome=Queued).exclude(partitioning=current)
             .order_by("pk").values_list("pk", flat=True).first())
    return rows if first is None else rows.filter(pk__lt=first)


def _claim(partition, current):
    """The partition's oldest queued deliveries, up to about BATCH_ALERTS alerts."""
    return _batch(_before_stale(_in_partition(partition, current), current), partition)


def _claimable(partition, current):
    return _before_stale(_in_partition(partition, current), current).exists()


def _stale_waiting(current):
    return WebhookPayload.objects.filter(outcome=Queued).exclude(partitioning=current).exists()


def _waiting(bits):
    """Whether a queued delivery has alerts in any of these partitions (or waits for all)."""
    return (WebhookPayload.objects.filter(outcome=Queued).alias(mine=F("pending").bitand(bits))
            .exclude(mine=0, partitioning=str(partitioning())).exists())


def _batch(rows, partition=None):
    """The oldest rows, up to about BATCH_ALERTS alerts to apply: of a delivery
    spanning partitions, a partition's applier applies its share."""
    rows = list(rows.order_by("pk").only("pk", "body", "attempts", "pending", "partitioning")[:BATCH_DELIVERIES])
    batch = Claimed()
    for row in rows:
        share = row.body.count('"fingerprint"') // (row.pending.bit_count() if partition is not None else 1)
        if batch and batch.alerts + share > BATCH_ALERTS:
            break
        batch.append(row)
        batch.alerts += share
    return batch


class Claimed(list):
    """Deliveries claimed for a batch, and about how many alerts they bring."""
    alerts = 0


def _apply_batch(payloads, mask, parsed, outcome, expected=None):
    """Apply the deliveries' parts in the partitions of `mask` together; if
    that fails, one by one, so one bad delivery holds up no other. `expected`:
    the partitioning they were claimed under (StaleRouting if it changed)."""
    if not payloads:
        return
    if len(payloads) > 1:
        try:
            with transaction.atomic():
                outcome.applied |= _apply(payloads, mask, parsed, expected)
            return
        except StaleRouting:
            raise
        except Exception as exc:
            logger.warning("applying %d deliveries together failed (%s); applying them one by one", len(payloads), exc)
    # The audit chain first, as audit.atomic wants: one by one, a delivery's summary
    # row is updated before the next takes the chain, and another partition's applier
    # holding the chain may be waiting for that row (a delivery spanning both).
    with audit.atomic() if len(payloads) > 1 else transaction.atomic():
        for payload in payloads:
            try:
                with transaction.atomic():
                    outcome.applied |= _apply([payload], mask, parsed, expected)
            except StaleRouting:
                raise
            except Exception as exc:
                logger.exception("applying Alertmanager delivery %s failed", payload.pk)
                _failed(payload, exc)


def _apply(payloads, mask, parsed, expected):
    """Apply the deliveries' alerts in the partitions of `mask`, in order, and
    record what each did. The alerts go in segments, and a dedup key's notices
    in a segment are all firing or all resolved: apply_alertmanager resolves
    before it fires, so "resolved" then "firing" for one key (the incident
    resolved, then a new one) or "firing" then "resolved" (one alert of two
    resolved: the incident stays open) land in the order they came."""
    router = ingest.Router()  # one read of the routing for the whole batch
    if expected is not None and str(Partitioning(settings.ALERT_APPLIERS, router.dedup_labels)) != expected:
        raise StaleRouting()
    tally, segment, states = ingest.Tally(), [], {}
    for payload in payloads:
        tally.of(payload.pk)
        alerts = parsed.get(payload.pk) or ingest.parse_alertmanager(payload.body.encode())
        stored_with, todo = Partitioning.parse(payload.partitioning), payload.pending & mask
        for alert in alerts:
            if stored_with is not None and not todo >> stored_with.of(alert) & 1:
                continue  # another partition's, or applied already
            alert.payload_id = payload.pk
            key = router.dedup_key(alert)
            if states.get(key, alert.status) != alert.status:
                ingest.apply_alertmanager(segment, tally, router)
                segment, states = [], {}
            states[key] = alert.status
            segment.append(alert)
    if segment:
        ingest.apply_alertmanager(segment, tally, router)
    # One UPDATE per distinct summary: deliveries of a storm mostly did the same
    # ("opened": 1), and bulk_update's CASE per row costs more than the batch.
    alike = {}
    for payload in payloads:
        alike.setdefault(json.dumps(tally.of(payload.pk), sort_keys=True), []).append(payload.pk)
    now = timezone.now()
    for summary, ids in alike.items():
        _done(ids, mask, summary, now)
    return {payload.pk: tally.of(payload.pk) for payload in payloads}


def _done(ids, mask, summary, now):
    """Mark the parts applied: the delivery's summary adds this part's counts,
    and it is accepted once no part is left. One statement, so two appliers
    finishing parts of one delivery at once each add theirs."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {WebhookPayload._meta.db_table} SET
                  pending = pending & ~%(mask)s,
                  summary = CASE WHEN summary = '{{}}'::jsonb THEN %(summary)s::jsonb ELSE
                    (SELECT jsonb_object_agg(key, COALESCE((summary ->> key)::int, 0) + value::int)
                     FROM jsonb_each_text(%(summary)s::jsonb)) END,
                  outcome = CASE WHEN pending & ~%(mask)s = 0 THEN %(accepted)s ELSE outcome END,
                  error = CASE WHEN pending & ~%(mask)s = 0 THEN '' ELSE error END,
                  processed_at = CASE WHEN pending & ~%(mask)s = 0 THEN %(now)s ELSE processed_at END
                WHERE id = ANY(%(ids)s)""",
            {"mask": mask, "summary": summary, "accepted": WebhookPayload.Outcome.ACCEPTED, "now": now, "ids": ids})


def _failed(payload, exc):
    """Count a failed attempt; after MAX_ATTEMPTS the delivery is set aside as
    our error (shown on the intake page, where an admin can queue it again)."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    rows = WebhookPayload.objects.filter(pk=payload.pk)
    rows.update(attempts=F("attempts") + 1, error=error)
    rows.filter(attempts__gte=MAX_ATTEMPTS, outcome=Queued).update(outcome=WebhookPayload.Outcome.ERROR,
                                                                   processed_at=timezone.now())
