"""The whole alerting path with the shipped configuration: a scraped target
goes down, Prometheus's ServiceDown rule fires, Alertmanager posts to the
console (live_server) with its bearer token, and an incident opens with its
runbook linked; the target comes back and the incident records the resolution.
Intervals are 1 s and ServiceDown's `for` is shortened to 1 s; nothing else in
deploy/prometheus/ is changed."""
import http.server
import json
import threading
import time

import pytest
import yaml
from django.urls import reverse

from devstack import services
from ops_console.incidents.defaults import ensure_defaults
from ops_console.incidents.intake_config import do_create_token
from ops_console.incidents.models import Incident
from ops_console.incidents.timeline import Kind
from ops_console.monitoring.board import fingerprint
from ops_console.monitoring.models import Service
from ops_console.runbooks.models import Runbook
from tests.waiting import wait_until

from . import stack

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


class Target:
    """A tiny scrape target on 127.0.0.1 that can go down and come back on its port."""

    def __init__(self):
        self.port = services.free_port()
        self.server = None

    def start(self):
        class Metrics(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"backend_demo_requests_total 1\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Metrics)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def target():
    target = Target()
    target.start()
    yield target
    target.stop()


@pytest.fixture
def monitoring_stack(tmp_path, live_server, target, settings):
    ensure_defaults()
    token, raw = do_create_token("alertmanager (e2e)", acting_user=None)
    (tmp_path / "token").write_text(raw)
    prometheus_port, alertmanager_port = services.free_port(), services.free_port()
    conf = stack.render(tmp_path / "conf", console_url=live_server.url, prometheus_port=prometheus_port,
                        alertmanager_port=alertmanager_port, interval="1s", group_wait="1s",
                        token_file=tmp_path / "token")
    (conf / "targets" / "backend.json").write_text(json.dumps([{"targets": [f"127.0.0.1:{target.port}"]}]))
    # The backend's availability burn rate pages for the same outage (test_generate_slo_rules.py
    # fires it); this test follows ServiceDown alone.
    (conf / "rules" / "slo_burn_rates.yml").unlink()
    rules_file = conf / "rules" / "slo_violations.yml"
    rules = yaml.safe_load(rules_file.read_text())
    for rule in rules["groups"][0]["rules"]:
        if rule["alert"] == "ServiceDown":
            rule["for"] = "1s"  # the documents' 1m, shortened for the test
    rules_file.write_text(yaml.safe_dump(rules, sort_keys=False))
    prometheus, alertmanager = stack.start(conf, tmp_path, prometheus_port, alertmanager_port)
    settings.PROMETHEUS_URL, settings.BASE_URL = prometheus.url, live_server.url
    yield prometheus
    prometheus.stop()
    alertmanager.stop()


def test_target_down_opens_an_incident_with_its_runbook_and_back_up_resolves_it(monitoring_stack, target,
                                                                                  client_as, capsys):
    backend = Service.objects.create(slug="backend", name="Backend API", selector='job="backend"')
    runbook = Runbook.objects.create(slug="service-down", title="Service down", alerts=[])
    from ops_console.monitoring import prometheus as prom

    wait_until(lambda: prom.query('up{job="backend"} == 1'), 30, message="the first scrape of the target")

    target.stop()
    down_at = time.monotonic()
    incident = wait_until(lambda: Incident.objects.filter(source="alertmanager").first(), 60, message="the incident")
    opened_after = time.monotonic() - down_at

    assert incident.title.startswith("ServiceDown")
    assert incident.runbook == runbook
    assert list(incident.services.all()) == [backend]
    assert incident.severity.code == "P1" and incident.severity.pages   # critical pages
    alert = incident.alerts.get()
    assert alert.labels["alertname"] == "ServiceDown" and alert.labels["job"] == "backend"
    assert alert.fingerprint == fingerprint(alert.labels)   # how the Services page links alerts to incidents

    html = client_as("responder").get(reverse("monitoring:index")).content.decode()
    assert "ServiceDown" in html and incident.get_absolute_url() in html and 'href="/runbooks/service-down/"' in html

    target.start()
    up_at = time.monotonic()
    wait_until(lambda: Incident.objects.get(pk=incident.pk).resolved_at, 60, message="the resolution")
    resolved_after = time.monotonic() - up_at
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED
    assert incident.timeline.filter(kind=Kind.ALERT_RESOLVED).exists()
    with capsys.disabled():
        print(f"\n  e2e alerting: target down -> incident open in {opened_after:.1f}s; "
              f"target up -> incident resolved in {resolved_after:.1f}s")
