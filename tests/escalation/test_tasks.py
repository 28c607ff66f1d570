"""The Celery tasks on a real worker process: beat's task fires the due level,
the page's delivery runs as its own task and reaches a webhook."""
import pytest
from django.db.models import F

from ops_console.escalation import tasks
from ops_console.escalation.models import Delivery, Page
from tests.waiting import wait_until

from .conftest import contact, json_url, open_incident


@pytest.mark.integration
def test_a_worker_fires_the_level_and_delivers_the_page(celery_worker, on_call, receiver):
    hook = receiver(500)  # the first attempt fails: retry_deliveries picks it up again
    contact(on_call["oncall-sre"], json_url(hook.url))
    incident = open_incident("P1")
    tasks.fire_due_escalations.delay()
    wait_until(lambda: Delivery.objects.filter(page__incident=incident, status="retry").exists(), 30,
               message="the first delivery to fail and wait for a retry")
    assert Page.objects.get(incident=incident, level=1).user == on_call["oncall-sre"]
    Delivery.objects.filter(page__incident=incident).update(next_attempt_at=F("created_at"))  # due now, not in 30 s
    tasks.retry_deliveries.delay()
    wait_until(lambda: Delivery.objects.filter(page__incident=incident, status="delivered").exists(), 30,
               message="the retried delivery")
    assert len(hook.requests) == 2 and hook.requests[1]["json"]["incident"] == incident.reference
