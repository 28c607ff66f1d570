"""Celery tasks of the incidents app."""
from celery import shared_task

from . import retention


@shared_task(name="ops_console.incidents.tasks.prune_payloads", ignore_result=True)
def prune_payloads():
    return retention.prune_payloads()


@shared_task(name="ops_console.incidents.tasks.drain_alert_queue", ignore_result=True)
def drain_alert_queue(partition=None):
    """Apply queued Alertmanager deliveries of one partition (rung by a busy
    intake), or of every partition (beat, in case a message was lost)."""
    from . import alert_queue

    return alert_queue.drain(partition, linger=alert_queue.LINGER_SECONDS)
