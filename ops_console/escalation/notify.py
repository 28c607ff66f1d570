"""Pages to deliveries: who gets what on which channel, sending one delivery
(outside any transaction: a slow webhook holds no lock), and retrying with
exponential back-off. Each delivery is its own Celery task."""
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from ops_console.incidents.timeline import Kind, add_event

from . import acklink
from .channels import DeliveryError, Message, channel
from .models import ContactMethod, Delivery

MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=30)
STUCK_AFTER = timedelta(minutes=5)  # a "sending" row older than this lost its worker
LOST_AFTER = timedelta(minutes=1)  # a "pending" row older than this lost its task message


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
    claimed = Delivery.objects.filter(pk=delivery_id, status__in=[Delivery.PENDING, Delivery.RETRY]).update(
        status=Delivery.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("page__incident__severity", "page__user").get(pk=delivery_id)
    try:
        channel(delivery.channel).send(delivery.address, message_for(delivery.page))
    except DeliveryError as exc:
        return _failed(delivery, exc, now)
    with transaction.atomic():
        delivery.status, delivery.delivered_at, delivery.last_error = Delivery.DELIVERED, now, ""
        delivery.save(update_fields=["status", "delivered_at", "last_error"])
        add_event(delivery.page.incident, Kind.PAGE_DELIVERED, at=now,
                  message=f"Page to {_who(delivery)} delivered by {delivery.channel}"
                          + (f" after {delivery.attempts} attempts." if delivery.attempts > 1 else "."),
                  data={"delivery": delivery.pk, "channel": delivery.channel, "attempts": delivery.attempts})
    return delivery


def _who(delivery):
    return delivery.page.user.get_username() if delivery.page.user_id else delivery.page.role_name


def _failed(delivery, exc, now):
    final = exc.permanent or delivery.attempts >= MAX_ATTEMPTS
    with transaction.atomic():
        delivery.last_error = str(exc)[:2000]
        if final:
            delivery.status, delivery.next_attempt_at = Delivery.FAILED, None
            add_event(delivery.page.incident, Kind.PAGE_FAILED, at=now,
                      message=f"Page to {_who(delivery)} by {delivery.channel} failed "
                              f"({'permanent' if exc.permanent else f'{delivery.attempts} attempts'}): {exc}",
                      data={"delivery": delivery.pk, "channel": delivery.channel, "permanent": exc.permanent})
        else:
            delivery.status, delivery.next_attempt_at = Delivery.RETRY, now + backoff(delivery.attempts)
        delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
    return delivery


def due_retries(now=None):
    """Ids of deliveries to send now: retries that are due, pages whose task
    message was lost (still pending after a minute), rows whose worker died mid-send."""
    now = now or timezone.now()
    Delivery.objects.filter(status=Delivery.SENDING, claimed_at__lt=now - STUCK_AFTER).update(
        status=Delivery.RETRY, next_attempt_at=now, last_error="worker lost while sending")
    due = Q(status=Delivery.RETRY, next_attempt_at__lte=now) | Q(status=Delivery.PENDING,
                                                                   created_at__lt=now - LOST_AFTER)
    return list(Delivery.objects.filter(due).values_list("pk", flat=True))
