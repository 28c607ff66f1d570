"""A real Alertmanager posts to the console: firing (re-sent every second),
then resolved. One incident, one firing event, then resolved."""
import json
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from devstack import services
from ops_console.incidents.intake_config import do_create_token
from ops_console.incidents.models import Incident, Status, WebhookPayload
from tests.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def post_alert(alertmanager, ends_at=None, starts_at=None):
    alert = {"labels": {"alertname": "HighErrorRate", "severity": "critical", "job": "backend"},
             "annotations": {"summary": "High error rate detected", "description": "<b>5xx</b> at 3 %"},
             "startsAt": starts_at.isoformat(), "generatorURL": "http://prometheus/graph"}
    if ends_at:
        alert["endsAt"] = ends_at.isoformat()
    request = urllib.request.Request(f"{alertmanager.url}/api/v2/alerts", data=json.dumps([alert]).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=5).read()


@pytest.fixture
def alertmanager(tmp_path, live_server):
    _, raw = do_create_token("alertmanager (integration)", acting_user=None)
    config = tmp_path / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: console
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1s
receivers:
  - name: console
    webhook_configs:
      - url: {live_server.url}/api/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: {raw}}}
""")
    server = services.Alertmanager(services.free_port(), config, tmp_path / "am").start()
    yield server
    server.stop()


def test_real_alertmanager_firing_repeated_resolved(alertmanager):
    started = datetime.now(timezone.utc) - timedelta(minutes=1)
    post_alert(alertmanager, starts_at=started)
    incident = wait_until(lambda: Incident.objects.filter(source="alertmanager").first(), 30, message="the incident")
    assert incident.severity.code == "P1" and incident.title == "HighErrorRate: High error rate detected"
    # Alertmanager re-sends the firing group: still one incident, one firing event.
    wait_until(lambda: WebhookPayload.objects.filter(outcome="accepted").count() >= 3, 30,
               message="repeated deliveries")
    assert Incident.objects.count() == 1
    assert incident.timeline.filter(kind="alert_fired").count() == 1
    assert incident.alerts.get().received_count >= 3

    post_alert(alertmanager, starts_at=started, ends_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    wait_until(lambda: Incident.objects.get(pk=incident.pk).status == Status.RESOLVED, 30, message="the resolution")
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds[:2] == ["opened", "alert_fired"] and "alert_resolved" in kinds
    assert not WebhookPayload.objects.exclude(outcome="accepted").exists()
