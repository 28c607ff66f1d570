"""The alert queue: deliveries stored first, applied in order by whoever holds
the intake lock (a request, or a worker when the request's time is up)."""
import contextlib
import json

import psycopg
import pytest
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from ops_console.incidents import alert_intake, alert_queue, ingest
from ops_console.incidents.metrics import COLLECTOR
from ops_console.incidents.models import Incident, WebhookPayload
from tests.conftest import database_url
from tests.waiting import wait_until

from .conftest import AM_URL, am_alert, am_payload


@contextlib.contextmanager
def lock_held_elsewhere():
    """Every partition's lock held by another session (requests, or workers, busy
    applying); like them, it rings for the worker once it lets go."""
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, p) FROM generate_series(0, %s) AS p",
                      [alert_queue.LOCK_ID, alert_queue.MAX_PARTITIONS - 1])
        yield
        other.execute("SELECT pg_advisory_unlock_all()")
    alert_queue.ring_bell()


def queue(*bodies):
    """Deliveries answered while the lock is busy: stored, queued, not applied."""
    answers = []
    with lock_held_elsewhere():
        for body in bodies:
            answers.append(alert_intake.receive(json.dumps(body).encode(), token=None))
    assert [status for status, _ in answers] == [202] * len(bodies)
    assert all(data["status"] == "queued" for _, data in answers)
    return [WebhookPayload.objects.get(pk=data["payload"]) for _, data in answers]


def kinds(incident):
    return list(incident.timeline.values_list("kind", flat=True))


def fingerprints_in(partition, count, prefix="fp"):
    """Fingerprints whose alerts fall in this partition (the key is the fingerprint)."""
    current = alert_queue.partitioning(fresh=True)
    found = []
    for n in range(1000):
        alert = ingest.parse_alertmanager(json.dumps(am_payload(am_alert(fingerprint=f"{prefix}{n}"))).encode())[0]
        if current.of(alert) == partition:
            found.append(alert.fingerprint)
            if len(found) == count:
                return found


@pytest.mark.django_db(transaction=True)
def test_a_delivery_while_the_lock_is_busy_is_stored_then_applied_in_order():
    firing, resolved = queue(am_payload(am_alert()), am_payload(am_alert(status="resolved")))
    assert firing.outcome == "queued" and not Incident.objects.exists()
    assert alert_queue.backlog()[0] == 2

    assert alert_queue.drain() == 2
    incident = Incident.objects.get()
    # Firing then resolved for the same alert, applied together: in the order they came.
    assert kinds(incident) == ["opened", "alert_fired", "alert_resolved", "status_change"]
    assert incident.status == "resolved"
    firing.refresh_from_db()
    resolved.refresh_from_db()
    assert (firing.outcome, firing.summary["opened"], firing.processed_at is not None) == ("accepted", 1, True)
    assert (resolved.outcome, resolved.summary["resolved"], resolved.summary["opened"]) == ("accepted", 1, 0)
    assert alert_queue.backlog() == (0, 0.0)


@pytest.mark.django_db(transaction=True)
def test_deliveries_applied_together_each_keep_their_own_summary():
    payloads = queue(am_payload(am_alert(fingerprint="a")), am_payload(am_alert(fingerprint="a")),
                     am_payload(am_alert(fingerprint="b"), am_alert(fingerprint="c")))
    alert_queue.drain()
    summaries = [WebhookPayload.objects.get(pk=p.pk).summary for p in payloads]
    assert [(s["opened"], s["repeated"]) for s in summaries] == [(1, 0), (0, 1), (2, 0)]
    assert Incident.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_batch_costs_the_same_queries_for_3_deliveries_or_7():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_to_drain(fingerprints):
        queue(*[am_payload(am_alert(fingerprint=fp)) for fp in fingerprints])
        with CaptureQueriesContext(connection) as captured:
            alert_queue.drain()
        return len(captured)

    ours = fingerprints_in(0, 11)  # one partition's applier, one batch
    queries_to_drain(ours[:1])  # the first delivery also makes the audit chain's head, and so on
    # From COPY_FROM rows each table's rows go in one COPY (a row or two, in one INSERT).
    assert queries_to_drain(ours[1:4]) == queries_to_drain(ours[4:])
    assert Incident.objects.count() == 11


@pytest.mark.django_db(transaction=True)
def test_a_delivery_that_keeps_failing_is_set_aside_and_holds_up_no_other(monkeypatch, client_as):
    first, poison, last = queue(*[am_payload(am_alert(fingerprint=fp)) for fp in ("ok-1", "poison", "ok-2")])
    real = ingest.apply_alertmanager

    def apply(alerts, tally=None, router=None):
        if any(alert.fingerprint == "poison" for alert in alerts):
            raise RuntimeError("a bug of ours")
        return real(alerts, tally, router)

    monkeypatch.setattr(ingest, "apply_alertmanager", apply)
    alert_queue.drain()
    assert sorted(Incident.objects.values_list("dedup_key", flat=True)) == ["ok-1", "ok-2"]
    poison.refresh_from_db()
    assert (poison.outcome, poison.attempts) == ("error", alert_queue.MAX_ATTEMPTS)
    assert "RuntimeError: a bug of ours" in poison.error
    assert WebhookPayload.objects.filter(outcome="accepted").count() == 2

    # Once the bug is fixed, an admin applies it again (audited), from the payload page.
    monkeypatch.undo()
    response = client_as("admin").post(reverse("incidents:payload_apply_again", args=[poison.pk]))
    assert response.status_code == 302
    alert_queue.drain()  # what the worker rung on commit does
    poison.refresh_from_db()
    assert poison.outcome == "accepted" and Incident.objects.filter(dedup_key="poison").exists()
    assert AuditEntry.objects.filter(action="webhook_payload.requeued", object_id=str(poison.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_queued_deliveries_are_applied_in_order_by_the_worker_once_the_appliers_let_go(celery_worker):
    first, last = fingerprints_in(0, 2)
    queue(am_payload(am_alert(fingerprint=first)), am_payload(am_alert(fingerprint=first, status="resolved")),
          am_payload(am_alert(fingerprint=last)))
    wait_until(lambda: not WebhookPayload.objects.filter(outcome="queued").exists(), 30, message="the worker to drain")
    first, last = Incident.objects.get(dedup_key=first), Incident.objects.get(dedup_key=last)
    assert first.status == "resolved" and last.status == "triggered"
    assert first.pk < last.pk  # opened in the order the deliveries came


def stored_behind(alerts):
    """A delivery stored and waiting, as one answered 202 in a storm (nobody holds a lock)."""
    current = alert_queue.partitioning(fresh=True)
    parsed = ingest.parse_alertmanager(json.dumps(am_payload(*alerts)).encode())
    return WebhookPayload.objects.create(source="alertmanager", body=json.dumps(am_payload(*alerts)),
                                         outcome="queued", pending=current.mask(parsed), partitioning=str(current))


@pytest.mark.django_db(transaction=True)
def test_a_delivery_behind_older_ones_in_its_partition_waits_for_them_and_others_do_not():
    (waiting, behind), (elsewhere,) = fingerprints_in(0, 2), fingerprints_in(1, 1)
    older = stored_behind([am_alert(fingerprint=waiting)])
    status, data = alert_intake.receive(json.dumps(am_payload(am_alert(fingerprint=behind))).encode(), token=None)
    assert (status, data["status"]) == (202, "queued")  # no lock was busy: the older delivery waits in front
    # Another partition has nothing waiting: its delivery is applied at once, beside the backlog.
    status, _ = alert_intake.receive(json.dumps(am_payload(am_alert(fingerprint=elsewhere))).encode(), token=None)
    assert status == 200 and Incident.objects.filter(dedup_key=elsewhere).exists()
    assert alert_queue.backlog_by_partition() == {0: 2, 1: 0}
    depths = {s.labels["partition"]: s.value for family in COLLECTOR.collect() for s in family.samples
              if s.name == "ops_console_alert_queue_partition_depth"}
    assert depths == {"0": 2, "1": 0}  # each applier's own progress, on /metrics

    assert alert_queue.drain(0) == 2
    assert list(Incident.objects.filter(dedup_key__in=[waiting, behind]).order_by("pk")
                .values_list("dedup_key", flat=True)) == [waiting, behind]
    older.refresh_from_db()
    assert (older.outcome, older.pending) == ("accepted", 0)


@pytest.mark.django_db(transaction=True)
def test_a_delivery_spanning_partitions_is_applied_part_by_part_and_accepted_after_its_last():
    (zero,), (one,) = fingerprints_in(0, 1), fingerprints_in(1, 1)
    stored_behind([am_alert(fingerprint=zero)])  # partition 0 waits: the delivery below cannot be applied whole
    status, data = alert_intake.receive(
        json.dumps(am_payload(am_alert(fingerprint=zero, status="resolved"), am_alert(fingerprint=one))).encode(),
        token=None)
    assert status == 202
    spanning = WebhookPayload.objects.get(pk=data["payload"])
    assert spanning.pending == 0b11

    assert alert_queue.drain(1) == 1  # its part in partition 1, on its own
    spanning.refresh_from_db()
    assert (spanning.outcome, spanning.pending, spanning.summary["opened"]) == ("queued", 0b01, 1)
    assert Incident.objects.filter(dedup_key=one).exists() and not Incident.objects.filter(dedup_key=zero).exists()

    alert_queue.drain(0)
    spanning.refresh_from_db()
    assert (spanning.outcome, spanning.pending, spanning.processed_at is not None) == ("accepted", 0, True)
    # The summary adds up both parts: one opened in partition 1, one resolved in partition 0.
    assert (spanning.summary["opened"], spanning.summary["resolved"]) == (1, 1)
    assert Incident.objects.get(dedup_key=zero).status == "resolved"


@pytest.mark.django_db(transaction=True)
def test_deliveries_stored_under_another_routing_are_applied_alone_in_order():
    from ops_console.incidents.models import AlertRouting

    firing, resolved = queue(am_payload(am_alert(fingerprint="a", name="Grouped")),
                             am_payload(am_alert(fingerprint="a", name="Grouped", status="resolved")))
    AlertRouting.objects.filter(pk=1).update(dedup_labels="alertname")  # their partitions were the fingerprint's
    later = alert_intake.receive(json.dumps(am_payload(am_alert(fingerprint="b", name="Grouped"))).encode(),
                                token=None)
    assert later[0] == 202  # stored under the new routing, behind the old ones
    alert_queue.drain()
    assert not WebhookPayload.objects.filter(outcome="queued").exists()
    # In order, under the routing in force: opened and resolved by "a", opened again by "b".
    incidents = list(Incident.objects.filter(dedup_key="alertname=Grouped").order_by("pk"))
    assert [i.status for i in incidents] == ["resolved", "triggered"]


def test_only_a_failed_alertmanager_delivery_can_be_applied_again(db, client_as, post_json):
    post_json(AM_URL, am_payload())
    accepted = WebhookPayload.objects.get()
    response = client_as("admin").post(reverse("incidents:payload_apply_again", args=[accepted.pk]), follow=True)
    assert "Only an Alertmanager delivery that failed on our side" in response.content.decode()
    assert WebhookPayload.objects.get().outcome == "accepted"


@pytest.mark.parametrize("role", ["responder", "commander", "auditor"])
def test_applying_again_is_for_admins(db, client_as, role):
    payload = WebhookPayload.objects.create(source="alertmanager", outcome="error", body="{}")
    assert client_as(role).post(reverse("incidents:payload_apply_again", args=[payload.pk])).status_code == 403
    assert WebhookPayload.objects.get().outcome == "error"
