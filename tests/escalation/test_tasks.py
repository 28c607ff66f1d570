"""The Celery tasks on a real worker process: beat's task fires the due level,
the page's delivery runs as its own task and reaches a webhook."""
import time

import pytest
from django.db.models import F

from ops_console.escalation import tasks
from ops_console.escalation.models import ContactMethod, Delivery, Page

from .conftest import open_incident


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.integration
def test_a_worker_fires_the_level_and_delivers_the_page(celery_worker, on_call, receiver):
    hook = receiver(500)  # the first attempt fails: retry_deliveries picks it up again
    ContactMethod.objects.create(user=on_call["oncall-sre"], channel="webhook", address=hook.url)
    incident = open_incident("P1")
    tasks.fire_due_escalations.delay()
    assert wait_for(lambda: Delivery.objects.filter(page__incident=incident, status="retry").exists())
    assert Page.objects.get(incident=incident).user == on_call["oncall-sre"]
    Delivery.objects.filter(page__incident=incident).update(next_attempt_at=F("created_at"))  # due now, not in 30 s
    tasks.retry_deliveries.delay()
    assert wait_for(lambda: Delivery.objects.filter(page__incident=incident, status="delivered").exists())
    assert len(hook.requests) == 2 and hook.requests[1]["json"]["incident"] == incident.reference
