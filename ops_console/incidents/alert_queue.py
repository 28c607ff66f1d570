"""Alertmanager deliveries: stored first, then applied in the order they came
by whoever holds the intake lock.

A delivery is validated and stored (a 400 or a 503 is decided before anything
else). When the console is quiet its request then takes the lock and applies
it, and answers 200 with what it did. In an alert storm the queue is not
empty: the request answers 202 at once (stored, queued) and a Celery worker
holds the lock and applies everybody's deliveries, many per transaction. So
the fixed cost of a delivery is paid once per batch rather than once per
delivery, the web processes stay free to answer, and the order of firing and
resolved notices is kept because one applier works at a time.

Nothing is lost between the two steps: whoever held the lock looks at the
queue again after releasing it (a delivery stored meanwhile was either seen
then or stored by a request that could take the lock itself) and rings for
the worker if anything is left; the beat schedule drains the queue every few
seconds in case that message was lost."""
import json
import logging

from django.core.exceptions import ValidationError
from django.db import Error as DatabaseError  # InterfaceError too: a connection that died mid-request
from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone

from ops_console.audit import log as audit
from ops_console.audit.log import record

from . import ingest
from .models import WebhookPayload

SOURCE = "alertmanager"
BATCH_DELIVERIES = 200
BATCH_ALERTS = 1000  # alerts per transaction: large enough to share the cost, short enough not to block others
MAX_ATTEMPTS = 3
LOCK_ID = 0x0C_A1E7  # the PostgreSQL advisory lock of the intake
Queued = WebhookPayload.Outcome.QUEUED
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
        payload = WebhookPayload.objects.create(source=SOURCE, body=ingest.stored_text(body), outcome=Queued,
                                                token=token, remote_addr=remote_addr)
    except DatabaseError:  # ours, not the sender's: 5xx so Alertmanager sends it again
        logger.exception("storing an Alertmanager delivery failed")
        return 503, {"error": "temporary failure; please retry"}
    outcome = Outcome()
    try:
        _apply_if_first(payload, alerts, outcome)
    except DatabaseError:  # stored: the worker applies it once the database is back
        logger.exception("applying an Alertmanager delivery failed; it stays queued")
    if payload.pk in outcome.applied:
        return 200, {"status": "ok", "payload": payload.pk, **outcome.applied[payload.pk]}
    # Older deliveries wait, another applier holds the lock, or applying ours
    # failed once: the worker applies it, in order (and retries it).
    return 202, {"status": "queued", "payload": payload.pk}


class Outcome:
    """What an applier did: {payload id: summary} of the deliveries it applied."""

    def __init__(self):
        self.applied = {}


def _apply_if_first(payload, alerts, outcome):
    """Apply the delivery now if nothing older waits and nobody holds the
    lock; otherwise leave it to the holder or the worker."""
    with transaction.atomic():
        if not _try_lock():
            return  # the holder looks at the queue again after releasing the lock
        first = WebhookPayload.objects.filter(outcome=Queued).order_by("pk").values_list("pk", flat=True).first()
        if first == payload.pk:  # deliveries stored since ours come after it: fine
            _apply_batch(_claim(), {payload.pk: alerts}, outcome)
    if first != payload.pk or WebhookPayload.objects.filter(outcome=Queued).exists():
        ring_bell()


def drain():
    """The worker's job: apply queued deliveries, oldest first, until none is
    left, unless another holds the lock (it looks again after releasing it).
    Returns how many this call applied."""
    outcome = Outcome()
    while True:
        with transaction.atomic():
            if not _try_lock():
                break
            batch = _claim()
            if batch:
                _apply_batch(batch, {}, outcome)
        if not batch and not WebhookPayload.objects.filter(outcome=Queued).exists():
            break
    return len(outcome.applied)


@audit.atomic
def do_apply_again(payload, *, acting_user):
    """Queue a delivery that was set aside as our error again (an admin, once
    the cause is fixed). Applied in order with the queue."""
    if payload.source != SOURCE or payload.outcome != WebhookPayload.Outcome.ERROR:
        raise ValidationError("Only an Alertmanager delivery that failed on our side can be applied again.")
    before = {"outcome": payload.outcome, "attempts": payload.attempts, "error": payload.error}
    payload.outcome, payload.attempts, payload.processed_at = Queued, 0, None
    payload.save(update_fields=["outcome", "attempts", "processed_at"])
    record("webhook_payload.requeued", obj=payload, actor=acting_user, before=before,
           after={"outcome": payload.outcome})
    transaction.on_commit(ring_bell)
    return payload


def ring_bell():
    """Ask a worker to drain the queue. A lost message is not a lost alert:
    the beat schedule drains the queue too."""
    from .tasks import drain_alert_queue

    try:
        drain_alert_queue.apply_async(retry=False)
    except Exception:  # the broker is down: the reconciler's turn comes when it is back
        logger.warning("could not reach the broker to drain the alert queue", exc_info=True)


def backlog():
    """(queued deliveries, age in seconds of the oldest) for the intake page and /metrics."""
    queued = WebhookPayload.objects.filter(outcome=Queued).aggregate(count=Count("pk"), oldest=Min("received_at"))
    oldest = queued["oldest"]
    return queued["count"], (timezone.now() - oldest).total_seconds() if oldest else 0.0


def _try_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_ID])
        return cursor.fetchone()[0]


def _claim():
    """The oldest queued deliveries, up to about BATCH_ALERTS alerts."""
    rows = list(WebhookPayload.objects.filter(outcome=Queued).order_by("pk")
                .only("pk", "body", "attempts")[:BATCH_DELIVERIES])
    batch, alerts = [], 0
    for row in rows:
        if batch and alerts + row.body.count('"fingerprint"') > BATCH_ALERTS:
            break
        batch.append(row)
        alerts += row.body.count('"fingerprint"')
    return batch


def _apply_batch(payloads, parsed, outcome):
    """Apply the deliveries together; if that fails, one by one, so one bad
    delivery holds up no other."""
    if len(payloads) > 1:
        try:
            with transaction.atomic():
                outcome.applied |= _apply(payloads, parsed)
            return
        except Exception as exc:
            logger.warning("applying %d deliveries together failed (%s); applying them one by one", len(payloads), exc)
    for payload in payloads:
        try:
            with transaction.atomic():
                outcome.applied |= _apply([payload], parsed)
        except Exception as exc:
            logger.exception("applying Alertmanager delivery %s failed", payload.pk)
            _failed(payload, exc)


def _apply(payloads, parsed):
    """Apply the deliveries' alerts in order and record what each did. The
    alerts go in segments: a segment holds one notice per alert instance, so
    "firing" then "resolved" for the same alert land in that order."""
    tally, segment, states = ingest.Tally(), [], {}
    for payload in payloads:
        tally.of(payload.pk)
        alerts = parsed.get(payload.pk) or ingest.parse_alertmanager(payload.body.encode())
        for alert in alerts:
            alert.payload_id = payload.pk
            identity = (alert.fingerprint, alert.starts_at)
            if states.get(identity, alert.status) != alert.status:
                ingest.apply_alertmanager(segment, tally)
                segment, states = [], {}
            states[identity] = alert.status
            segment.append(alert)
    if segment:
        ingest.apply_alertmanager(segment, tally)
    # One UPDATE per distinct summary: deliveries of a storm mostly did the same
    # ("opened": 1), and bulk_update's CASE per row costs more than the batch.
    alike = {}
    for payload in payloads:
        alike.setdefault(json.dumps(tally.of(payload.pk), sort_keys=True), []).append(payload.pk)
    now = timezone.now()
    for summary, ids in alike.items():
        WebhookPayload.objects.filter(pk__in=ids).update(outcome=WebhookPayload.Outcome.ACCEPTED, error="",
                                                         summary=json.loads(summary), processed_at=now)
    return {payload.pk: tally.of(payload.pk) for payload in payloads}


def _failed(payload, exc):
    """Count a failed attempt; after MAX_ATTEMPTS the delivery is set aside as
    our error (shown on the intake page, where an admin can queue it again)."""
    payload.attempts += 1
    payload.error = f"{type(exc).__name__}: {exc}"[:2000]
    fields = ["attempts", "error"]
    if payload.attempts >= MAX_ATTEMPTS:
        payload.outcome, payload.processed_at = WebhookPayload.Outcome.ERROR, timezone.now()
        fields += ["outcome", "processed_at"]
    payload.save(update_fields=fields)
