"""Celery tasks. Beat rings the bell; each task reads what is due from the
database, so a lost or repeated message changes nothing."""
import logging

from celery import shared_task

from . import engine, notify

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def fire_due_escalations():
    return len(engine.fire_due())


@shared_task(ignore_result=True)
def audit_escalations():
    return len(engine.audit())


@shared_task(ignore_result=True)
def retry_deliveries():
    ids = notify.due_retries()
    for delivery_id in ids:
        deliver.delay(delivery_id)
    return len(ids)


@shared_task(ignore_result=True)
def send_deliveries(delivery_ids):
    """One task per delivery: a slow chat webhook never delays an e-mail."""
    for delivery_id in delivery_ids:
        deliver.delay(delivery_id)


# Short: a delivery waits at most the channel's timeout; acks_late re-delivery is safe (deliver claims its row).
@shared_task(ignore_result=True, soft_time_limit=30, time_limit=40)
def deliver(delivery_id):
    notify.deliver(delivery_id)
