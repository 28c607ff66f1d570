"""The escalation numbers on /metrics come from the database."""
from django.urls import reverse

from ops_console.escalation import engine, notify
from ops_console.escalation.models import Page

from .conftest import open_incident


def test_metrics_count_pages_and_escalations(client, on_call):
    incident = open_incident("P1")
    engine.fire_due(incident.escalation.started_at)
    notify.deliver(Page.objects.get(incident=incident).deliveries.get().pk)
    text = client.get(reverse("health:metrics")).content.decode()
    assert 'ops_console_page_deliveries_total{channel="email",status="delivered"} 1.0' in text
    assert 'ops_console_escalations_fired_total{by="engine"} 1.0' in text
    assert "ops_console_escalations_pending 4.0" in text   # the next three levels and the first's re-page
