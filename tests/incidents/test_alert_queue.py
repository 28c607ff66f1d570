"""The alert queue: deliveries stored first, applied in order by whoever holds
the intake lock (a request, or a worker when the request's time is up)."""
import contextlib
import json

import psycopg
import pytest
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from ops_console.incidents import alert_queue, ingest
from ops_console.incidents.models import Incident, WebhookPayload
from tests.conftest import database_url
from tests.waiting import wait_until

from .conftest import AM_URL, am_alert, am_payload


@contextlib.contextmanager
def lock_held_elsewhere():
    """The intake lock held by another session (another request, or a worker, busy applying)."""
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [alert_queue.LOCK_ID])
        yield
        other.execute("SELECT pg_advisory_unlock(%s)", [alert_queue.LOCK_ID])


def queue(*bodies):
    """Deliveries answered while the lock is busy: stored, queued, not applied."""
    answers = []
    with lock_held_elsewhere():
        for body in bodies:
            answers.append(alert_queue.receive(json.dumps(body).encode(), token=None))
    assert [status for status, _ in answers] == [202] * len(bodies)
    assert all(data["status"] == "queued" for _, data in answers)
    return [WebhookPayload.objects.get(pk=data["payload"]) for _, data in answers]


def kinds(incident):
    return list(incident.timeline.values_list("kind", flat=True))


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
def test_a_batch_costs_the_same_queries_for_2_deliveries_or_8():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_to_drain(fingerprints):
        queue(*[am_payload(am_alert(fingerprint=fp)) for fp in fingerprints])
        with CaptureQueriesContext(connection) as captured:
            alert_queue.drain()
        return len(captured)

    queries_to_drain(["warm-up"])  # the first delivery also makes the audit chain's head, and so on
    assert queries_to_drain(["a", "b"]) == queries_to_drain([f"c{n}" for n in range(8)])
    assert Incident.objects.count() == 11


@pytest.mark.django_db(transaction=True)
def test_a_delivery_that_keeps_failing_is_set_aside_and_holds_up_no_other(monkeypatch, client_as):
    first, poison, last = queue(*[am_payload(am_alert(fingerprint=fp)) for fp in ("ok-1", "poison", "ok-2")])
    real = ingest.apply_alertmanager

    def apply(alerts, tally=None):
        if any(alert.fingerprint == "poison" for alert in alerts):
            raise RuntimeError("a bug of ours")
        return real(alerts, tally)

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
def test_a_delivery_behind_a_backlog_is_answered_at_once_and_the_worker_applies_all_in_order(celery_worker):
    queue(am_payload(am_alert(fingerprint="first")), am_payload(am_alert(fingerprint="first", status="resolved")))
    status, data = alert_queue.receive(json.dumps(am_payload(am_alert(fingerprint="last"))).encode(), token=None)
    assert status == 202  # older deliveries wait: ours goes behind them, and the worker is rung
    wait_until(lambda: not WebhookPayload.objects.filter(outcome="queued").exists(), 30, message="the worker to drain")
    first, last = Incident.objects.get(dedup_key="first"), Incident.objects.get(dedup_key="last")
    assert first.status == "resolved" and last.status == "triggered"
    assert first.pk < last.pk  # opened in the order the deliveries came


def test_a_quiet_delivery_is_applied_before_its_answer(db, post_json):
    response = post_json(AM_URL, am_payload())
    assert response.status_code == 200 and response.json()["opened"] == 1
    assert WebhookPayload.objects.get().processed_at is not None


def test_a_delivery_we_cannot_store_is_503_so_alertmanager_retries(db, post_json, monkeypatch):
    from django.db import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(WebhookPayload.objects, "create", down)
    response = post_json(AM_URL, am_payload())
    assert response.status_code == 503 and "retry" in response.json()["error"]
    assert not Incident.objects.exists()


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
