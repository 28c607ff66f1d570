"""manage.py generate_slo_rules: the committed rules file is what the shipped
SLOs generate (--check), it is written only when promtool accepts it, and in a
real Prometheus scraping a service that fails fast its page fires and routes
to the pager."""
import http.server
import io
import json
import subprocess
import threading

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

from devstack import services
from ops_console.monitoring import demo
from ops_console.monitoring.models import SLO
from tests.waiting import wait_until

from . import stack

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
SHIPPED = settings.BASE_DIR / "deploy" / "prometheus" / "rules" / "slo_burn_rates.yml"


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("generate_slo_rules", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def load_shipped_services():
    """What a console ships with: the library's services (bootstrap) and the demo's."""
    call_command("load_services", stdout=io.StringIO())
    demo.load(io.StringIO())


def test_the_committed_file_is_what_the_shipped_slos_generate():
    load_shipped_services()
    assert SLO.objects.filter(target__isnull=False).count() >= 5
    assert "is up to date" in run("--check")


def test_check_fails_when_an_slo_changed(tmp_path):
    demo.load(io.StringIO())
    output = tmp_path / "rules.yml"
    run("--output", str(output))
    SLO.objects.filter(service__slug="backend", name="Availability").update(target=99.95)
    with pytest.raises(CommandError, match="out of date") as failure:
        run("--check", "--output", str(output))
    assert failure.value.returncode == 1
    with pytest.raises(CommandError, match="out of date"):
        run("--check", "--output", str(tmp_path / "missing.yml"))


def test_every_budgeted_shipped_slo_has_its_rules_and_runbook(tmp_path):
    demo.load(io.StringIO())
    output = tmp_path / "rules.yml"
    assert "rules for 5 budgeted SLOs" in run("--output", str(output))
    groups = yaml.safe_load(output.read_text())["groups"]
    assert [g["name"] for g in groups] == ["slo:ai-core:availability", "slo:backend:error-rate",
                                           "slo:backend:availability", "slo:ops-console:error-rate",
                                           "slo:ops-console:availability"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert {(a["labels"]["service"], a["labels"]["slo"], a["labels"]["severity"]) for a in alerts} == {
        (service, slo, severity) for service, slo in [("ai-core", "availability"), ("backend", "error-rate"),
                                                      ("backend", "availability"), ("ops-console", "error-rate"),
                                                      ("ops-console", "availability")]
        for severity in ("critical", "warning")}
    runbooks = {(a["labels"]["slo"], a["annotations"]["runbook_url"]) for a in alerts}
    assert runbooks == {("availability", "${base_url}/runbooks/service-down/"),
                        ("error-rate", "${base_url}/runbooks/high-error-rate/")}
    assert "P95 latency" not in output.read_text()      # a threshold: no budget, no rules


def test_promtool_accepts_the_committed_file(tmp_path):
    conf = stack.render(tmp_path, console_url="https://ops.example.com")
    rules = conf / "rules" / "slo_burn_rates.yml"
    result = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    groups = yaml.safe_load(rules.read_text())["groups"]
    assert len(groups) >= 5   # every budgeted SLO: 7 recording rules and 2 alerts
    assert result.returncode == 0 and f"SUCCESS: {9 * len(groups)} rules found" in result.stdout, \
        result.stdout + result.stderr


def test_a_query_promtool_refuses_writes_nothing(tmp_path):
    demo.load(io.StringIO())
    SLO.objects.filter(service__slug="backend", name="Error rate").update(total_query="sum(rate(x[{{ window }}])")
    output = tmp_path / "rules.yml"
    with pytest.raises(CommandError, match="promtool refuses the generated rules"):
        run("--output", str(output))
    assert not output.exists()


class FailingBackend:
    """A scrape target for job="backend" answering half its requests with a 500."""

    def __init__(self):
        self.port, self.requests = services.free_port(), 0

    def __enter__(self):
        backend = self

        class Metrics(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                backend.requests += 100
                body = (f'http_requests_total{{status="200"}} {backend.requests // 2}\n'
                        f'http_requests_total{{status="500"}} {backend.requests // 2}\n').encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Metrics)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_a_fast_burn_fires_the_page_in_a_real_prometheus_and_routes_to_the_pager(tmp_path):
    """The shipped rules file as rendered, in a Prometheus evaluating every
    second; the backend fails half its requests (50x a 1 % budget)."""
    conf = stack.render(tmp_path, console_url="https://ops.example.com", interval="1s")
    for other in (conf / "rules").glob("*.yml"):
        if other.name != "slo_burn_rates.yml":
            other.unlink()   # only the burn-rate rules: nothing else may fire here
    (conf / "targets" / "backend.json").write_text("[]")
    port = services.free_port()
    config = tmp_path / "burn-test.yml"
    with FailingBackend() as backend:
        config.write_text("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                          f"rule_files: ['{conf}/rules/*.yml']\n"
                          "scrape_configs:\n"
                          f"  - job_name: backend\n    static_configs: [{{targets: ['127.0.0.1:{backend.port}']}}]\n")
        server = services.Prometheus(port, config, tmp_path / "data").start()
        try:
            def page():
                import urllib.request

                with urllib.request.urlopen(f"{server.url}/api/v1/alerts", timeout=2) as response:
                    alerts = json.load(response)["data"]["alerts"]
                return [a for a in alerts if a["state"] == "firing" and a["labels"]["severity"] == "critical"]

            (alert,) = wait_until(page, 60, message="the ErrorBudgetBurn page")
        finally:
            server.stop()
    assert alert["labels"] == {"alertname": "ErrorBudgetBurn", "severity": "critical", "service": "backend",
                               "slo": "error-rate", "team": "platform", "job": "backend"}
    assert alert["annotations"]["runbook_url"] == "https://ops.example.com/runbooks/high-error-rate/"
    routes = subprocess.run(["amtool", "config", "routes", "test", "--config.file", str(conf / "alertmanager.yml"),
                             *(f"{k}={v}" for k, v in alert["labels"].items())],
                            capture_output=True, text=True, timeout=60)
    assert routes.stdout.splitlines()[0] == "console-page", routes.stdout + routes.stderr
