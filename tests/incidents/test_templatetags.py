"""The incidents app's template tags other apps' pages use: the Services page
links each alert Prometheus holds to the incident its webhook opened."""
from datetime import datetime, timezone

from django.template import Context, Template

from ops_console.incidents.actions import do_open_incident
from ops_console.incidents.models import Alert, Severity

T = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_with_incidents_links_alerts_by_fingerprint(db):
    incident = do_open_incident(title="API down", severity=Severity.objects.get(code="P1"))
    Alert.objects.create(incident=incident, fingerprint="abc", starts_at=T, name="ApiDown", status="firing",
                         first_received_at=T, last_received_at=T)
    alerts = [{"fingerprint": "abc", "name": "ApiDown"}, {"fingerprint": "other", "name": "Unknown"}]
    html = Template("{% load incidents %}{% with_incidents alerts as alerts %}"
                    "{% for a in alerts %}{{ a.name }}={{ a.incident.reference|default:'none' }};{% endfor %}"
                    ).render(Context({"alerts": alerts}))
    assert html == f"ApiDown={incident.reference};Unknown=none;"
    assert "incident" not in alerts[0]  # the caller's list is left as it was
