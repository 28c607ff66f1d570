"""Celery tasks. Beat rings the bell; each task reads what is due from the
database, so a lost or repeated message changes nothing."""
import logging

from celery import shared_task
from django.conf import settings
from kombu.exceptions import OperationalError

from . import engine, notify, person_pages

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def fire_due_escalations():
    return len(engine.fire_due())


@shared_task(ignore_result=True)
def audit_escalations():
    fired = len(engine.audit())
    # Reminders are due by the update cadence (minutes): the audit's minute is soon enough.
    person_pages.remind_acknowledged()
    return fired


@shared_task(ignore_result=True)
def retry_deliveries():
    ids = notify.due_retries()
    for n, delivery_id in enumerate(ids):
        try:
            deliver.delay(delivery_id)
        except OperationalError:  # the broker is away: the rest are due again at the next tick
            notify.not_queued(ids[n:])
            raise
    return len(ids)


@shared_task(ignore_result=True)
def send_deliveries(delivery_ids):
    """One task per delivery: a slow chat webhook never delays an e-mail."""
    for delivery_id in delivery_ids:
        deliver.delay(delivery_id)


# Killed before its claim's lease ends: a send never outlives its claim, so the retry of
# a claim past its lease never runs beside it. acks_late re-delivery is safe (deliver claims its row).
@shared_task(ignore_result=True, soft_time_limit=settings.ESCALATION_DELIVERY_LEASE_SECONDS - 4,
             time_limit=settings.ESCALATION_DELIVERY_LEASE_SECONDS - 2)
def deliver(delivery_id):
    notify.deliver(delivery_id)
