"""Two deliveries of the same new alert at the same moment (Alertmanager
retrying, or two Alertmanagers in a cluster): one request applies its own
and any other stored by then, the others answer 202 (stored, queued), and the
worker applies the rest in order."""
import json
import threading

import pytest
from django.db import connection

from ops_console.incidents import alert_intake, alert_queue
from ops_console.incidents.models import Alert, Incident, TimelineEvent, WebhookPayload

from .conftest import am_alert, am_payload

pytestmark = pytest.mark.django_db(transaction=True)


def deliver_at_once(bodies):
    barrier = threading.Barrier(len(bodies))
    results = []

    def deliver(body):
        try:
            barrier.wait()
            results.append(alert_intake.receive(body, token=None)[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == len(bodies) and set(results) <= {200, 202}, results
    alert_queue.drain()  # the worker's part: whatever was answered 202
    assert not WebhookPayload.objects.exclude(outcome="accepted").exists()
    return results


@pytest.mark.parametrize("copies", [2, 4])
def test_concurrent_copies_open_one_incident_with_one_firing_event(copies):
    body = json.dumps(am_payload(am_alert(fingerprint="race"), am_alert(fingerprint="race-2"))).encode()
    deliver_at_once([body] * copies)
    assert Incident.objects.count() == 2
    assert Alert.objects.count() == 2
    assert TimelineEvent.objects.filter(kind="alert_fired").count() == 2
    assert TimelineEvent.objects.filter(kind="opened").count() == 2
    assert WebhookPayload.objects.filter(outcome="accepted").count() == copies


def test_concurrent_alerts_of_one_problem_share_one_incident(db):
    from ops_console.incidents.models import AlertRouting

    AlertRouting.objects.filter(pk=1).update(dedup_labels="alertname")
    bodies = [json.dumps(am_payload(am_alert(fingerprint=f"member-{n}"))).encode() for n in range(3)]
    deliver_at_once(bodies)
    incident = Incident.objects.get()
    assert incident.alerts.count() == 3
    assert incident.timeline.filter(kind="alert_fired").count() == 3


def test_overlapping_batches_in_any_order_open_each_incident_once():
    names = [f"fp-{n}" for n in range(6)]
    bodies = [json.dumps(am_payload(*[am_alert(fingerprint=fp) for fp in order])).encode()
              for order in (names, names[::-1], names[2:] + names[:2], names[3:] + names[:3])]
    deliver_at_once(bodies)
    assert Incident.objects.count() == 6 and Alert.objects.count() == 6
    assert TimelineEvent.objects.filter(kind="alert_fired").count() == 6
