"""The escalation numbers on /metrics come from the database."""
from django.urls import reverse

from ops_console.escalation import engine, notify
from ops_console.escalation.models import Page

from .conftest import open_incident


def test_metrics_count_pages_and_escalations(client, on_call, smtp, settings):
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp().port
    incident = open_incident("P1")
    engine.fire_due(incident.escalation.started_at)
    notify.deliver(Page.objects.get(incident=incident).deliveries.get().pk)
    text = client.get(reverse("health:metrics")).content.decode()
    assert 'ops_console_page_deliveries_total{channel="E-Mail",status="delivered"} 1.0' in text
    assert 'ops_console_escalations_fired_total{by="engine"} 1.0' in text
    assert "ops_console_escalations_pending 4.0" in text   # the next three levels and the first's re-page


def test_levels_past_due_and_not_fired_are_counted_as_overdue(client, on_call):
    from datetime import timedelta

    from django.utils import timezone

    from ops_console.escalation.models import ScheduledLevel

    incident = open_incident("P1")   # level 1 is due at once; nothing fires it in this test
    assert "ops_console_escalation_levels_overdue 0.0" in client.get(reverse("health:metrics")).content.decode()
    ScheduledLevel.objects.filter(incident=incident, level=1).update(due_at=timezone.now() - timedelta(seconds=31))
    assert "ops_console_escalation_levels_overdue 1.0" in client.get(reverse("health:metrics")).content.decode()
    engine.fire_due()
    assert "ops_console_escalation_levels_overdue 0.0" in client.get(reverse("health:metrics")).content.decode()
