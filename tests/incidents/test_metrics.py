from ops_console.incidents.metrics import COLLECTOR
from ops_console.incidents.models import WebhookPayload

from .conftest import open_incident


def samples():
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in COLLECTOR.collect()
            for s in family.samples}


def test_open_incidents_by_severity_and_payloads_by_outcome(db):
    open_incident(code="P1")
    open_incident(code="P1")
    closed = open_incident(code="P0")
    closed.status = "closed"
    closed.save(update_fields=["status"])
    WebhookPayload.objects.create(source="alertmanager", outcome="invalid")
    values = samples()
    assert values[("ops_console_incidents_open", (("severity", "P1"),))] == 2
    assert values[("ops_console_incidents_open", (("severity", "P0"),))] == 0
    assert values[("ops_console_webhook_payloads", (("outcome", "invalid"), ("source", "alertmanager")))] == 1


def test_metrics_endpoint_shows_them(client, db):
    open_incident(code="P2")
    body = client.get("/metrics").content.decode()
    assert 'ops_console_incidents_open{severity="P2"} 1.0' in body


def test_the_alert_queue_backlog(db):
    from datetime import timedelta

    from django.utils import timezone

    assert samples()[("ops_console_alert_queue_depth", ())] == 0
    WebhookPayload.objects.create(source="alertmanager", outcome="queued",
                                  received_at=timezone.now() - timedelta(seconds=90))
    WebhookPayload.objects.create(source="alertmanager", outcome="queued")
    values = samples()
    assert values[("ops_console_alert_queue_depth", ())] == 2
    assert 90 <= values[("ops_console_alert_queue_oldest_seconds", ())] < 120
