"""Pages to deliveries: who gets what through which contact method and when
(each method's delay after the page, in the person's order), sending one
delivery through Apprise (outside any transaction: a slow webhook holds no
lock), one DeliveryAttempt row per try, retries with exponential back-off.
Each delivery is its own Celery task.

When a personal method fails, the person's methods still waiting for their
delay go out at once; when every one of them has failed, the page is marked
failed and the escalation moves on (failover.py), without waiting.

At most once per channel, as far as the channel allows: a worker claims a
delivery (who, when) for a short lease, longer than any send may take (the
deliver task's time limit is below it). A claim older than the lease lost its
worker; the periodic retry sends it again within seconds, with the same
delivery id, which the receiver can use to drop the copy."""
import logging
import os
import socket
from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Least, Power
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from ops_console.database import outlasting_blips
from ops_console.incidents.timeline import Kind, add_event

from . import acklink, channels, failover
from .channels import DeliveryError, Message
from .models import ContactMethod, Delivery, DeliveryAttempt, Page

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=30)
# A "pending" row this old lost its task message (a worker killed with it reserved), or waits
# in a backlog: its task is sent again, then after twice as long each time (requeued keeps count),
# at most every LOST_MAX. Copies are harmless (deliver() claims) but a backlog must not feed itself.
LOST_AFTER = timedelta(seconds=15)
LOST_MAX = timedelta(minutes=5)
UNFINISHED = (Delivery.PENDING, Delivery.SENDING, Delivery.RETRY)
# Seconds a delivery's database steps wait out a database restart: well inside the deliver
# task's time limit (the lease minus a few seconds), send included.
BLIP_RETRY = 4
EMAIL = "E-Mail"  # Apprise's name for mailto://, known without parsing the URL


def lease():
    """How long a claim holds: a "sending" row older than this lost its worker."""
    return timedelta(seconds=settings.ESCALATION_DELIVERY_LEASE_SECONDS)


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"


def ack_link_ttl():
    return timedelta(hours=settings.ESCALATION_ACK_LINK_HOURS)


def backoff(attempts):
    """Wait before attempt `attempts + 1`: 30 s, 1 min, 2 min, ... at most 30 min."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def targets(pages):
    """{page: [(method or None, url, delay minutes, personal)]}: the person's
    enabled contact methods in their order (their account e-mail when they have
    none) and every team-wide method, in one query."""
    methods = list(ContactMethod.objects.filter(enabled=True).filter(
        Q(user_id__in={page.user_id for page in pages}) | Q(user__isnull=True)))
    team = [(m, m.url, m.delay_minutes, False) for m in methods if not m.user_id]
    result = {}
    for page in pages:
        personal = [(m, m.url, m.delay_minutes, True) for m in methods if m.user_id == page.user_id]
        if not personal and page.user.email:
            personal = [(None, channels.email_url(page.user.email), 0, True)]
        result[page] = personal + team
    return result


def plan_deliveries(pages, now):
    """Record the deliveries of new pages; send those due at once as tasks once
    committed (the rest wait for their delay: due_retries finds them)."""
    if not pages:
        return []
    planned = targets(pages)
    names = {}
    deliveries = Delivery.objects.bulk_create(
        Delivery(page=page, method=method, channel=_channel_name(url, method, names), address=url,
                 personal=personal, created_at=now, next_attempt_at=now + timedelta(minutes=delay) if delay else None)
        for page, methods in planned.items() for method, url, delay, personal in methods)
    for page, methods in planned.items():
        if not any(personal for *_, personal in methods):
            failover.page_failed(page, now, why=f"{page.user.get_username()} has no contact method and no e-mail")
    now_ids = [delivery.pk for delivery in deliveries if delivery.next_attempt_at is None]
    if now_ids:
        transaction.on_commit(lambda: _enqueue(now_ids))
    return deliveries


def _channel_name(url, method, names):
    if method is None:
        return EMAIL
    if url not in names:  # parsing an Apprise URL costs: once per URL per batch
        names[url] = channels.service_name(url)
    return names[url]


def _enqueue(ids):
    # One message per batch: a worker fans it out into one task per
    # delivery, so the engine spends no time on the broker per page.
    from .tasks import send_deliveries

    try:
        send_deliveries.delay(ids)
    except OperationalError as exc:
        # The broker is away (a Redis restart). The pages are in the database; raising here,
        # after their commit, would stop the engine before the next batch of due levels.
        log.warning("could not queue %d page deliveries (%s): the retry tick sends them", len(ids), exc)
        not_queued(ids)


def not_queued(ids):
    """Deliveries whose task could not be queued (the broker is away): due at the next retry
    tick, rather than once LOST_AFTER has passed."""
    Delivery.objects.filter(pk__in=ids, status=Delivery.PENDING).update(next_attempt_at=timezone.now())


def message_for(page):
    incident = page.incident
    base = settings.BASE_URL
    ack_url = base + reverse("escalation:ack", args=[acklink.make_token(page)])
    incident_url = base + incident.get_absolute_url()
    subject = f"[{incident.severity.code}] {incident.reference} {incident.title}"
    why = {Page.COMMANDER: "You are now the incident commander.", Page.RESPONDER: "You were added as a responder.",
           Page.REMINDER: "You acknowledged this incident and it is still open: time for an update."}
    lead = why.get(page.reason, f"You are paged as {page.role_name} (level {page.level}).")
    text = (f"{subject}\n{lead}\n"
            f"Incident: {incident_url}\nAcknowledge: {ack_url}\n"
            f"(the acknowledge link works once, until {page.link_expires_at:%Y-%m-%d %H:%M UTC})")
    data = {"incident": incident.reference, "severity": incident.severity.code,
            "status": incident.status, "role": page.role_name, "level": page.level, "reason": page.reason,
            "user": page.user.get_username() if page.user_id else None, "incident_url": incident_url,
            "ack_url": ack_url}
    return Message(subject=subject, text=text, data=data)


def deliver(delivery_id, now=None):
    """Send one delivery if it is still to be sent. Returns the delivery (or None if someone else has it)."""
    real_clock = now is None
    now = now or timezone.now()
    # The claim: one worker, and only one, moves the row to "sending"; its attempt number is its fence.
    # Each database step outlasts a blip (a PostgreSQL restart): a failed task would leave the page
    # to the retry tick, seconds later. Each is safe to repeat: the claim is conditional (repeated
    # after a commit whose answer was lost, it finds the row taken and the lease sends it again),
    # and so are the writes after the send.
    claimed = outlasting_blips(lambda: Delivery.objects.filter(
        pk=delivery_id, status__in=[Delivery.PENDING, Delivery.RETRY]).update(
        status=Delivery.SENDING, claimed_at=now, claimed_by=worker_name(), attempts=F("attempts") + 1),
        retry_for=BLIP_RETRY, what="claiming a page delivery")
    if not claimed:
        return None
    delivery = outlasting_blips(lambda: Delivery.objects.select_related(
        "page__incident__severity", "page__user").get(pk=delivery_id), retry_for=BLIP_RETRY, what="reading a delivery")
    message = replace(message_for(delivery.page), delivery_id=str(delivery.key), attempt=delivery.attempts)
    try:
        channels.send(delivery.address, message)
    except DeliveryError as exc:
        finished = timezone.now() if real_clock else now
        return outlasting_blips(lambda: _failed(delivery, exc, now, finished), retry_for=BLIP_RETRY,
                                what="recording a failed page delivery")
    finished = timezone.now() if real_clock else now
    return outlasting_blips(lambda: _sent(delivery, now, finished), retry_for=BLIP_RETRY,
                            what="recording a sent page delivery")


def _sent(delivery, now, finished):
    with transaction.atomic():
        # The page first, as _failed does: whether all of its methods failed is decided one at a time.
        Page.objects.select_for_update().filter(pk=delivery.page_id).first()
        _attempt(delivery, now, finished, DeliveryAttempt.SENT)
        # Sent is sent, even if this claim has lapsed meanwhile; but only one process
        # records it (and writes the timeline event).
        if not Delivery.objects.filter(pk=delivery.pk, status__in=UNFINISHED).update(
                status=Delivery.DELIVERED, delivered_at=finished, last_error="", next_attempt_at=None):
            return delivery
        delivery.status, delivery.delivered_at, delivery.last_error = Delivery.DELIVERED, finished, ""
        add_event(delivery.page.incident, Kind.PAGE_DELIVERED, at=finished,
                  message=f"Page to {_who(delivery)} delivered by {delivery.channel}"
                          + (f" after {delivery.attempts} attempts." if delivery.attempts > 1 else "."),
                  data={"delivery": delivery.pk, "channel": delivery.channel, "attempts": delivery.attempts,
                        "key": str(delivery.key)})
    return delivery


def _attempt(delivery, started, finished, outcome, error="", worker=None):
    DeliveryAttempt.objects.bulk_create([DeliveryAttempt(
        delivery_id=delivery.pk, number=delivery.attempts, started_at=started, finished_at=finished,
        outcome=outcome, error=error[:2000], worker=worker or worker_name())], ignore_conflicts=True)


def _who(delivery):
    return delivery.page.user.get_username() if delivery.page.user_id else delivery.page.role_name


def _failed(delivery, exc, now, finished):
    final = exc.permanent or delivery.attempts >= MAX_ATTEMPTS
    with transaction.atomic():
        # The page's lock: of two methods failing at once, the second to take it sees the first's
        # outcome, so "every method failed" is noticed exactly once.
        page = (Page.objects.select_for_update(of=("self",)).select_related("incident", "user")
                .get(pk=delivery.page_id))
        delivery.last_error = str(exc)[:2000]
        _attempt(delivery, now, finished, DeliveryAttempt.FAILED, delivery.last_error)
        if final:
            delivery.status, delivery.next_attempt_at = Delivery.FAILED, None
        else:
            delivery.status, delivery.next_attempt_at = Delivery.RETRY, finished + backoff(delivery.attempts)
        # Only while the claim is still ours: a later attempt (our lease lapsed) decides instead.
        mine = Delivery.objects.filter(pk=delivery.pk, status=Delivery.SENDING, attempts=delivery.attempts)
        if not mine.update(status=delivery.status, next_attempt_at=delivery.next_attempt_at,
                           last_error=delivery.last_error):
            return delivery
        if final:
            add_event(page.incident, Kind.PAGE_FAILED, at=finished,
                      message=f"Page to {_who(delivery)} by {delivery.channel} failed "
                              f"({'permanent' if exc.permanent else f'{delivery.attempts} attempts'}): {exc}",
                      data={"delivery": delivery.pk, "channel": delivery.channel, "permanent": exc.permanent})
        if delivery.personal:
            _after_personal_failure(page, finished)
    return delivery


def _after_personal_failure(page, now):
    """The person's methods still waiting for their delay go out now; if none is
    left and none got through, every method of the person has failed."""
    personal = Delivery.objects.filter(page=page, personal=True)
    waiting = list(personal.filter(status=Delivery.PENDING, next_attempt_at__gt=now).values_list("pk", flat=True))
    if waiting:
        # Sent now; due_retries sends them again if still pending after LOST_AFTER (a lost message).
        personal.filter(pk__in=waiting).update(next_attempt_at=now + LOST_AFTER)
        transaction.on_commit(lambda: _enqueue(waiting))
        return
    if page.failed_at is None and not personal.exclude(status__in=[Delivery.RETRY, Delivery.FAILED]).exists():
        failover.page_failed(page, now, why=f"every contact method of {page.user.get_username()} failed")


def due_retries(now=None):
    """Ids of deliveries to send now: retries that are due, methods whose delay
    is over, pages whose task message was lost (still pending after a while),
    and claims older than the lease, whose worker died mid-send. Safe in several
    processes at once: each change is a conditional UPDATE, and deliver() claims
    again before sending."""
    now = now or timezone.now()
    for pk, attempts, claimed_at, claimed_by in Delivery.objects.filter(
            status=Delivery.SENDING, claimed_at__lt=now - lease()).values_list(
            "pk", "attempts", "claimed_at", "claimed_by"):
        error = (f"worker lost while sending: no word from {claimed_by} within "
                 f"{settings.ESCALATION_DELIVERY_LEASE_SECONDS} s")
        with transaction.atomic():
            if Delivery.objects.filter(pk=pk, status=Delivery.SENDING, attempts=attempts).update(
                    status=Delivery.RETRY, next_attempt_at=now, last_error=error):
                _attempt(Delivery(pk=pk, attempts=attempts), claimed_at, now, DeliveryAttempt.LOST, error,
                         worker=claimed_by)
    lost = Q(status=Delivery.PENDING) & (Q(next_attempt_at__isnull=True, created_at__lt=now - LOST_AFTER)
                                         | Q(next_attempt_at__lte=now))
    due = list(Delivery.objects.filter(Q(status=Delivery.RETRY, next_attempt_at__lte=now) | lost)
               .values_list("pk", flat=True))
    # Not again at the next tick: a backlog of pending rows is not enqueued every 5 s.
    wait = ExpressionWrapper(Value(LOST_AFTER) * Power(2, F("requeued")), output_field=DurationField())
    Delivery.objects.filter(lost, pk__in=due).update(
        next_attempt_at=ExpressionWrapper(Value(now) + Least(wait, Value(LOST_MAX)), output_field=DateTimeField()),
        requeued=F("requeued") + 1)
    return due
