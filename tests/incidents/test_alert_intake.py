"""Receiving a delivery: validated and stored first, applied at once when
nothing older waits (200), else left to the appliers (202)."""
import json

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ops_console.incidents import alert_intake, alert_queue
from ops_console.incidents.models import Incident, WebhookPayload

from .conftest import AM_URL, am_alert, am_payload


def test_a_quiet_delivery_is_applied_before_its_answer(db, post_json):
    response = post_json(AM_URL, am_payload())
    assert response.status_code == 200 and response.json()["opened"] == 1
    assert WebhookPayload.objects.get().processed_at is not None


def test_a_delivery_we_cannot_store_is_503_so_alertmanager_retries(db, post_json, monkeypatch):
    from django.db import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(alert_intake, "_store", down)
    response = post_json(AM_URL, am_payload())
    assert response.status_code == 503 and "retry" in response.json()["error"]
    assert not Incident.objects.exists()


def test_storing_a_delivery_in_a_storm_reads_the_queue_back_from_its_own_row(db):
    """The planner's statistics were taken when nothing was queued, then a
    storm queued many: storing one more delivery still walks the queue back
    from its own row in index order. With an index on the outcome alone, a
    console's statistics after a quiet day (measured on one with 80,000
    deliveries) had it read every queued row and sort them, for each request."""
    WebhookPayload.objects.bulk_create(WebhookPayload(source="alertmanager", body="{}", outcome="accepted")
                                       for _ in range(2000))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {WebhookPayload._meta.db_table}")
    current = alert_queue.partitioning(fresh=True)
    WebhookPayload.objects.bulk_create(WebhookPayload(source="alertmanager", body="{}", outcome="queued",
                                                      pending=1 << (n % 2), partitioning=str(current))
                                       for n in range(500))
    with CaptureQueriesContext(connection) as stored:
        alert_intake._store(json.dumps(am_payload(am_alert())), None, None, 1, current)
    (statement,) = [query["sql"] for query in stored.captured_queries if "INSERT" in query["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}")  # planned, not run again
        plan = "\n".join(row for row, in cursor.fetchall())
    assert "Sort" not in plan, plan
    assert "Index Scan Backward using payload_outcome_id" in plan, plan
