"""PagerDuty Events API v2 at /api/v1/pagerduty/enqueue: what a PagerDuty
integration sends opens, deduplicates, acknowledges and resolves an incident,
and the answers are PagerDuty's."""
import copy
import json

import pytest

from ops_console.incidents.intake_config import do_create_token, do_revoke_token
from ops_console.incidents.models import Incident, WebhookPayload

URL = "/api/v1/pagerduty/enqueue"

# PagerDuty's documented example event (developer.pagerduty.com, Events API v2 "Send an event").
EXAMPLE = {
    "payload": {
        "summary": "DISK at 99% on machine prod-datapipe03.example.com",
        "timestamp": "2015-07-17T08:42:58.315+0000",
        "severity": "critical",
        "source": "prod-datapipe03.example.com",
        "component": "mysql",
        "group": "prod-datapipe",
        "class": "disk",
        "custom_details": {"free space": "1%", "ping time": "1500ms", "load avg": 0.75},
    },
    "routing_key": "samplekeyhere",
    "dedup_key": "samplekeyhere",
    "images": [{"src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
                "href": "https://example.com/", "alt": "Example text"}],
    "links": [{"href": "https://example.com/", "text": "Link text"}],
    "event_action": "trigger",
    "client": "Sample Monitoring Service",
    "client_url": "https://monitoring.example.com",
}


@pytest.fixture
def routing_key(make_user):
    _, raw = do_create_token("pagerduty-senders", acting_user=make_user("admin"))
    return raw


def send(client, body, url=URL):
    return client.post(url, json.dumps(body) if not isinstance(body, (bytes, str)) else body,
                       content_type="application/json")


def event(routing_key, action="trigger", dedup_key="samplekeyhere", **changes):
    body = copy.deepcopy(EXAMPLE)
    body.update(routing_key=routing_key, event_action=action, dedup_key=dedup_key, **changes)
    if action != "trigger":
        body.pop("payload")
    return body


def test_the_documented_example_opens_an_incident(client, routing_key):
    response = send(client, event(routing_key))
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "samplekeyhere"}
    incident = Incident.objects.get()
    assert incident.title == "DISK at 99% on machine prod-datapipe03.example.com"
    assert incident.severity.code == "P1"  # critical → P1 (settings.PAGERDUTY_SEVERITIES)
    assert incident.dedup_key == "samplekeyhere" and incident.status == "triggered"
    assert "free space: 1%" in incident.summary and "load avg: 0.75" in incident.summary
    assert "[Link text](https://example.com/)" in incident.summary
    assert "https://monitoring.example.com" in incident.summary
    payload = WebhookPayload.objects.get()
    assert payload.source == "pagerduty" and payload.outcome == "accepted"
    assert json.loads(payload.body)["dedup_key"] == "samplekeyhere"


def test_the_incident_says_pagerduty_and_the_lists_still_find_it(client, client_as, api_as, routing_key, make_user):
    """Its source is the intake's, "pagerduty" (the generic events API's stay "events"), and the
    board, the history and the API's list filter it as any other incident."""
    assert send(client, event(routing_key)).status_code == 202
    pd = Incident.objects.get()
    assert pd.source == "pagerduty"
    _, raw = do_create_token("events-sender", acting_user=make_user("admin"))
    generic = client.post("/api/v1/events", {"event_action": "trigger", "dedup_key": "ev-1",
                                             "title": "Queue backlog", "severity": "P3"},
                          content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert generic.status_code == 200, generic.content
    assert Incident.objects.get(dedup_key="ev-1").source == "events"
    api = api_as("auditor")
    for params in ({"status": "open"}, {"severity": "P1"}, {"q": "disk"}):
        found = [i["reference"] for i in api.get("/api/v1/incidents", params).json()["items"]]
        assert pd.reference in found, params
    assert api.get(f"/api/v1/incidents/{pd.reference}").json()["source"] == "pagerduty"
    page = client_as("responder")
    assert pd.reference in page.get("/incidents/").content.decode()
    history = page.get("/history/", {"severity": "P1", "status": "open"}).content.decode()
    assert pd.reference in history and "INC-" in history
    assert "pagerduty" in page.get(f"/incidents/{pd.reference}/").content.decode()


def test_repeat_joins_then_acknowledge_and_resolve(client, routing_key):
    assert send(client, event(routing_key)).status_code == 202
    assert send(client, event(routing_key)).status_code == 202
    assert Incident.objects.count() == 1
    incident = Incident.objects.get()
    assert send(client, event(routing_key, "acknowledge")).status_code == 202
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    assert send(client, event(routing_key, "resolve")).status_code == 202
    incident.refresh_from_db()
    assert incident.status == "resolved"
    # A new trigger with the key of a resolved incident opens a new one, as with PagerDuty.
    assert send(client, event(routing_key), url="/api/v1/pagerduty/v2/enqueue").status_code == 202
    assert Incident.objects.count() == 2


@pytest.mark.parametrize("pd, code", [("critical", "P1"), ("error", "P2"), ("warning", "P3"), ("info", "P3")])
def test_severity_mapping(client, routing_key, pd, code):
    body = event(routing_key, dedup_key=f"k-{pd}")
    body["payload"]["severity"] = pd
    assert send(client, body).status_code == 202
    assert Incident.objects.get().severity.code == code


def test_severity_mapping_is_a_setting(client, routing_key, settings):
    settings.PAGERDUTY_SEVERITIES = {**settings.PAGERDUTY_SEVERITIES, "critical": "P0"}
    assert send(client, event(routing_key)).status_code == 202
    assert Incident.objects.get().severity.code == "P0"


def test_trigger_without_dedup_key_gets_one(client, routing_key):
    body = event(routing_key)
    body.pop("dedup_key")
    response = send(client, body)
    assert response.status_code == 202
    assert response.json()["dedup_key"] == Incident.objects.get().dedup_key != ""


def test_acknowledge_unknown_key_is_accepted(client, routing_key):
    assert send(client, event(routing_key, "resolve", dedup_key="never-seen")).status_code == 202
    assert not Incident.objects.exists()


def test_bad_routing_key(client, routing_key, make_user):
    for key in ("not-a-token", ""):
        response = send(client, event(key))
        assert response.status_code == 400
        assert response.json()["status"] == "invalid event" and response.json()["errors"]
    from ops_console.incidents.models import ApiToken

    do_revoke_token(ApiToken.objects.get(), acting_user=make_user("admin"))
    assert send(client, event(routing_key)).status_code == 400
    assert not Incident.objects.exists()


@pytest.mark.parametrize("change, error", [
    (lambda b: b.update(event_action="explode"), "'event_action' is invalid"),
    (lambda b: b["payload"].pop("summary"), "'payload.summary' is missing or blank"),
    (lambda b: b["payload"].pop("source"), "'payload.source' is missing or blank"),
    (lambda b: b["payload"].update(severity="fatal"), "'payload.severity' is invalid"),
    (lambda b: b.pop("payload"), "'payload' is missing or not an object"),
    (lambda b: b.update(links="x"), "'links' must be an array"),
])
def test_bad_payload_400_with_errors(client, routing_key, change, error):
    body = event(routing_key)
    change(body)
    response = send(client, body)
    assert response.status_code == 400
    data = response.json()
    assert data["status"] == "invalid event" and data["message"] == "Event object is invalid"
    assert any(e.startswith(error) for e in data["errors"]), data
    assert not Incident.objects.exists()


def test_not_json_and_ack_without_key(client, routing_key):
    assert send(client, b"{nope").status_code == 400
    body = event(routing_key, "acknowledge")
    body.pop("dedup_key")
    response = send(client, body)
    assert response.status_code == 400 and "'dedup_key' is required to acknowledge" in response.json()["errors"]


def test_links_are_http_only(client, routing_key):
    body = event(routing_key, links=[{"href": "javascript:alert(1)", "text": "evil"},
                                     {"href": "https://ok.example/", "text": "fine"}], images=[])
    assert send(client, body).status_code == 202
    summary = Incident.objects.get().summary
    assert "javascript" not in summary and "[fine](https://ok.example/)" in summary


def test_alertmanager_pagerduty_config_shape(client, routing_key):
    """What Alertmanager's pagerduty_configs (Events API v2) sends for a firing group, then its resolve."""
    firing = {
        "routing_key": routing_key, "event_action": "trigger",
        "dedup_key": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "payload": {"summary": "[FIRING:1] HighErrorRate backend", "source": "http://alertmanager:9093",
                    "severity": "error", "custom_details": {"firing": "Labels:\n - alertname = HighErrorRate\n",
                                                            "num_firing": "1", "num_resolved": "0", "resolved": ""}},
        "client": "Alertmanager", "client_url": "http://alertmanager:9093/#/alerts?receiver=console",
        "links": [], "images": [],
    }
    assert send(client, firing).status_code == 202
    resolved = {**firing, "event_action": "resolve"}
    assert send(client, resolved).status_code == 202
    incident = Incident.objects.get()
    assert incident.severity.code == "P2" and incident.status == "resolved"


@pytest.fixture
def alertmanager_pd(tmp_path, live_server, routing_key):
    from devstack import services

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
    pagerduty_configs:
      - routing_key: {routing_key}
        url: {live_server.url}/api/v1/pagerduty/enqueue
        send_resolved: true
        severity: critical
""")
    server = services.Alertmanager(services.free_port(), config, tmp_path / "am").start()
    yield server
    server.stop()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_real_alertmanager_pagerduty_configs(alertmanager_pd):
    """Alertmanager's own PagerDuty notifier, pointed at the console: opens, repeats into the same
    incident, resolves."""
    from datetime import datetime, timedelta, timezone as tz

    from tests.incidents.test_alertmanager import post_alert
    from tests.waiting import wait_until

    started = datetime.now(tz.utc) - timedelta(minutes=1)
    post_alert(alertmanager_pd, starts_at=started)
    incident = wait_until(lambda: Incident.objects.first(), 30, message="the incident")
    assert incident.source == "pagerduty" and incident.severity.code == "P1"
    assert "HighErrorRate" in incident.title
    wait_until(lambda: WebhookPayload.objects.filter(source="pagerduty", outcome="accepted").count() >= 3, 30,
               message="repeated deliveries")
    assert Incident.objects.count() == 1
    post_alert(alertmanager_pd, starts_at=started, ends_at=datetime.now(tz.utc) - timedelta(seconds=1))
    wait_until(lambda: Incident.objects.get(pk=incident.pk).status == "resolved", 30, message="the resolution")
    assert Incident.objects.count() == 1


class Gauge:
    """A tiny metrics endpoint whose one gauge the test sets (Prometheus scrapes it)."""

    def __init__(self):
        import http.server
        import threading

        self.value = 1
        gauge = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = f"# TYPE checkout_broken gauge\ncheckout_broken {gauge.value}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_firing_rule_through_alertmanagers_pagerduty_notifier(tmp_path, alertmanager_pd):
    """Prometheus evaluates a rule, Alertmanager's pagerduty_configs sends it to the console:
    one incident while it fires, resolved when the rule stops firing."""
    from devstack import services
    from tests.waiting import wait_until

    gauge = Gauge()
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: checkout\n    rules:\n      - alert: CheckoutBroken\n"
                     "        expr: checkout_broken == 1\n        labels: {severity: critical}\n"
                     "        annotations: {summary: Checkout is broken}\n")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{rules}']\n"
        f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{alertmanager_pd.port}']}}]}}]}}\n"
        f"scrape_configs:\n  - job_name: checkout\n    static_configs: [{{targets: ['127.0.0.1:{gauge.port}']}}]\n")
    prometheus = services.Prometheus(services.free_port(), config, tmp_path / "prom").start()
    try:
        incident = wait_until(lambda: Incident.objects.first(), 60, message="the incident from the firing rule")
        assert "CheckoutBroken" in incident.title and incident.severity.code == "P1"
        assert incident.source == "pagerduty"
        wait_until(lambda: WebhookPayload.objects.filter(source="pagerduty").count() >= 3, 30,
                   message="Alertmanager's repeated notifications")
        assert Incident.objects.count() == 1
        gauge.value = 0
        wait_until(lambda: Incident.objects.get(pk=incident.pk).status == "resolved", 60,
                   message="the resolution once the rule stops firing")
        assert Incident.objects.count() == 1
    finally:
        prometheus.stop()
        gauge.stop()
