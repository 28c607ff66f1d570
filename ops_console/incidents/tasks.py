"""Celery tasks of the incidents app."""
from celery import shared_task

from . import retention


@shared_task(name="ops_console.incidents.tasks.prune_payloads", ignore_result=True)
def prune_payloads():
    return retention.prune_payloads()
