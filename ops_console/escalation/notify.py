"""Pages to deliveries: who gets what on which channel, sending one delivery
(outside any transaction: a slow webhook holds no lock), and retrying with
exponential back-off. Each delivery is its own Celery task.

At most once per channel, as far as the channel allows: a worker claims a
delivery (who, when) for a short lease, longer than any send may take (the
deliver task's time limit is below it). A claim older than the lease lost its
worker; the periodic retry sends it again within seconds, with the same
delivery id, which the receiver can use to drop the copy."""
import os
import socket
from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils import timezone

from ops_console.incidents.timeline import Kind, add_event

from . import acklink
from .channels import DeliveryError, Message, channel
from .models import ContactMethod, Delivery

MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=30)
# A "pending" row this old lost its task message (a worker killed with it reserved), or waits
# in a backlog: its task is sent again, then again each LOST_AFTER (next_attempt_at keeps count).
LOST_AFTER = timedelta(seconds=15)
UNFINISHED = (Delivery.PENDING, Delivery.SENDING, Delivery.RETRY)


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
    """{page: [(channel, address)]}: the person's enabled contact methods (their
    e-mail when they have none) and every team-wide method, in one query."""
    methods = list(ContactMethod.objects.filter(enabled=True).filter(
        Q(user_id__in={page.user_id for page in pages}) | Q(user__isnull=True)))
    team = [(m.channel, m.address) for m in methods if not m.user_id]
    result = {}
    for page in pages:
        personal = [(m.channel, m.address) for m in methods if m.user_id == page.user_id]
        if not personal and page.user.email:
            personal = [("email", page.user.email)]
        result[page] = personal + team
    return result


def plan_deliveries(pages, now):
    """Record the deliveries of new pages and send each as its own task once committed."""
    if not pages:
        return []
    deliveries = Delivery.objects.bulk_create(
        Delivery(page=page, channel=kind, address=address, created_at=now)
        for page, addresses in targets(pages).items() for kind, address in addresses)

    def enqueue():
        # One message per batch: a worker fans it out into one task per
        # delivery, so the engine spends no time on the broker per page.
        from .tasks import send_deliveries

        send_deliveries.delay([delivery.pk for delivery in deliveries])

    transaction.on_commit(enqueue)
    return deliveries


def message_for(page):
    incident = page.incident
    base = settings.BASE_URL
    ack_url = base + reverse("escalation:ack", args=[acklink.make_token(page)])
    incident_url = base + incident.get_absolute_url()
    subject = f"[{incident.severity.code}] {incident.reference} {incident.title}"
    text = (f"{subject}\nYou are paged as {page.role_name} (level {page.level}).\n"
            f"Incident: {incident_url}\nAcknowledge: {ack_url}\n"
            f"(the acknowledge link works once, until {page.link_expires_at:%Y-%m-%d %H:%M UTC})")
    data = {"incident": incident.reference, "title": incident.title, "severity": incident.severity.code,
            "status": incident.status, "role": page.role_name, "level": page.level,
            "user": page.user.get_username() if page.user_id else None, "incident_url": incident_url,
            "ack_url": ack_url}
    return Message(subject=subject, text=text, data=data)


def deliver(delivery_id, now=None):
    """Send one delivery if it is still to be sent. Returns the delivery (or None if someone else has it)."""
    now = now or timezone.now()
    # The claim: one worker, and only one, moves the row to "sending"; its attempt number is its fence.
    claimed = Delivery.objects.filter(pk=delivery_id, status__in=[Delivery.PENDING, Delivery.RETRY]).update(
        status=Delivery.SENDING, claimed_at=now, claimed_by=worker_name(), attempts=F("attempts") + 1)
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("page__incident__severity", "page__user").get(pk=delivery_id)
    message = replace(message_for(delivery.page), delivery_id=str(delivery.key), attempt=delivery.attempts)
    try:
        channel(delivery.channel).send(delivery.address, message)
    except DeliveryError as exc:
        return _failed(delivery, exc, now)
    with transaction.atomic():
        # Sent is sent, even if this claim has lapsed meanwhile; but only one process
        # records it (and writes the timeline event).
        if not Delivery.objects.filter(pk=delivery.pk, status__in=UNFINISHED).update(
                status=Delivery.DELIVERED, delivered_at=now, last_error=""):
            return delivery
        delivery.status, delivery.delivered_at, delivery.last_error = Delivery.DELIVERED, now, ""
        add_event(delivery.page.incident, Kind.PAGE_DELIVERED, at=now,
                  message=f"Page to {_who(delivery)} delivered by {delivery.channel}"
                          + (f" after {delivery.attempts} attempts." if delivery.attempts > 1 else "."),
                  data={"delivery": delivery.pk, "channel": delivery.channel, "attempts": delivery.attempts,
                        "key": str(delivery.key)})
    return delivery


def _who(delivery):
    return delivery.page.user.get_username() if delivery.page.user_id else delivery.page.role_name


def _failed(delivery, exc, now):
    final = exc.permanent or delivery.attempts >= MAX_ATTEMPTS
    with transaction.atomic():
        delivery.last_error = str(exc)[:2000]
        if final:
            delivery.status, delivery.next_attempt_at = Delivery.FAILED, None
        else:
            delivery.status, delivery.next_attempt_at = Delivery.RETRY, now + backoff(delivery.attempts)
        # Only while the claim is still ours: a later attempt (our lease lapsed) decides instead.
        mine = Delivery.objects.filter(pk=delivery.pk, status=Delivery.SENDING, attempts=delivery.attempts)
        if not mine.update(status=delivery.status, next_attempt_at=delivery.next_attempt_at,
                           last_error=delivery.last_error):
            return delivery
        if final:
            add_event(delivery.page.incident, Kind.PAGE_FAILED, at=now,
                      message=f"Page to {_who(delivery)} by {delivery.channel} failed "
                              f"({'permanent' if exc.permanent else f'{delivery.attempts} attempts'}): {exc}",
                      data={"delivery": delivery.pk, "channel": delivery.channel, "permanent": exc.permanent})
    return delivery


def due_retries(now=None):
    """Ids of deliveries to send now: retries that are due, pages whose task
    message was lost (still pending after a minute), and claims older than the
    lease, whose worker died mid-send. Safe in several processes at once: each
    change is a conditional UPDATE, and deliver() claims again before sending."""
    now = now or timezone.now()
    Delivery.objects.filter(status=Delivery.SENDING, claimed_at__lt=now - lease()).update(
        status=Delivery.RETRY, next_attempt_at=now,
        last_error=Concat(Value("worker lost while sending: no word from "), F("claimed_by"),
                          Value(f" within {settings.ESCALATION_DELIVERY_LEASE_SECONDS} s")))
    lost = Q(status=Delivery.PENDING) & (Q(next_attempt_at__isnull=True, created_at__lt=now - LOST_AFTER)
                                         | Q(next_attempt_at__lte=now))
    due = list(Delivery.objects.filter(Q(status=Delivery.RETRY, next_attempt_at__lte=now) | lost)
               .values_list("pk", flat=True))
    # Not again at the next tick: a backlog of pending rows is not enqueued every 5 s.
    Delivery.objects.filter(lost, pk__in=due).update(next_attempt_at=now + LOST_AFTER)
    return due
