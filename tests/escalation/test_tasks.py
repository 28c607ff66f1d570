"""The Celery tasks on a real worker process: beat's task fires the due level,
the page's delivery runs as its own task and reaches a webhook."""
import pytest
from django.db.models import F
from django.utils import timezone

from ops_console.escalation import notify, tasks
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


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_retry_tick_with_the_broker_away_leaves_the_rest_due_at_the_next_tick(on_call, private_redis):
    from kombu.exceptions import OperationalError

    from tests.runbooks.test_tasks import celery_broker

    contact(on_call["oncall-sre"], json_url("http://127.0.0.1:9/hook"))
    incident = open_incident("P1")
    with celery_broker(private_redis.url):
        private_redis.stop()
        engine_ran = tasks.fire_due_escalations()  # the engine goes on: its deliveries are left due
        assert engine_ran == 1
        lost = Delivery.objects.filter(page__incident=incident)
        lost.update(next_attempt_at=None, created_at=F("created_at") - notify.LOST_AFTER * 2)  # lost, as if old
        with pytest.raises(OperationalError):
            tasks.retry_deliveries()
    # Not pushed LOST_AFTER into the future: the next tick, with the broker back, sends them.
    assert lost and all(d.status == "pending" and d.next_attempt_at <= timezone.now() for d in lost)
    assert set(notify.due_retries()) >= {d.pk for d in lost}


@pytest.mark.integration
def test_the_engines_tick_is_served_before_a_backlog_of_deliveries(worker_control):
    # No such deliveries: each task claims nothing and ends at once. What counts is the order.
    tasks.send_deliveries.delay([10**9])
    for n in range(20):
        tasks.deliver.delay(10**9 + n)
    tasks.fire_due_escalations.delay()
    worker = worker_control.start(queues="paging", concurrency=1)
    log = worker.log_path

    def received():
        return [line.split("Task ", 1)[1].split("[", 1)[0] for line in log.read_text().splitlines()
                if "Task ops_console." in line and "received" in line]

    # 22 sent, and send_deliveries fans out one more deliver
    wait_until(lambda: len(received()) == 23, 30, message="every task received")
    assert received()[0] == "ops_console.escalation.tasks.fire_due_escalations"
