"""The console watching itself (deploy/prometheus/rules/console_self.yml): the
rules load in promtool, Alertmanager routes them to a receiver outside the
console, and a real Prometheus scraping the console's /metrics fires
ConsoleEscalationOverdue when a level stays unfired."""
import json
import subprocess
import urllib.request
from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from devstack import services
from devstack.standalone import CONSOLE_SELF_WEBHOOK_DEFAULT
from tests.escalation.conftest import on_call, open_incident  # noqa: F401 - on_call is a fixture
from tests.waiting import wait_until

from .stack import render

pytestmark = pytest.mark.integration
RULES = {"ConsoleEscalationOverdue", "ConsoleStepsOverdue", "ConsoleBeatSilent", "ConsoleDown"}


def check(*argv):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_promtool_accepts_the_rules_and_every_one_is_the_consoles(tmp_path):
    conf = render(tmp_path)
    assert "SUCCESS: 4 rules found" in check("promtool", "check", "rules", str(conf / "rules" / "console_self.yml"))
    rules = {rule["alert"]: rule for group in yaml.safe_load((conf / "rules" / "console_self.yml").read_text())
             ["groups"] for rule in group["rules"]}
    assert set(rules) == RULES
    assert {rule["labels"]["team"] for rule in rules.values()} == {"console"}


def test_the_consoles_own_alerts_go_to_a_receiver_outside_it(tmp_path):
    conf = render(tmp_path, console_url="https://ops.example.com")
    config = str(conf / "alertmanager.yml")
    assert "SUCCESS" in check("amtool", "check-config", config)
    for labels in (["team=console", "severity=critical", "alertname=ConsoleEscalationOverdue"],
                   ["team=console", "severity=warning", "alertname=ConsoleBeatSilent"]):
        assert check("amtool", "config", "routes", "test", "--config.file", config, *labels).splitlines()[0] == \
            "console-self"
    [receiver] = [r for r in yaml.safe_load((conf / "alertmanager.yml").read_text())["receivers"]
                  if r["name"] == "console-self"]
    [hook] = receiver["webhook_configs"]
    assert hook["url"] == CONSOLE_SELF_WEBHOOK_DEFAULT and "ops.example.com" not in hook["url"]


@pytest.mark.django_db(transaction=True)
def test_a_real_prometheus_fires_escalation_overdue_from_the_consoles_metrics(tmp_path, live_server, on_call):
    from ops_console.escalation.models import ScheduledLevel

    incident = open_incident("P1")
    ScheduledLevel.objects.filter(incident=incident, level=1).update(due_at=timezone.now() - timedelta(minutes=5))
    port = services.free_port()
    (tmp_path / "conf").mkdir()
    conf = render(tmp_path / "conf", console_url=live_server.url, prometheus_port=port, interval="1s")
    rules = conf / "rules" / "console_self.yml"
    rules.write_text(rules.read_text().replace("for: 1m", "for: 1s"))  # the rule as shipped, without the wait
    for other in (conf / "rules").glob("*.yml"):
        if other != rules:
            other.unlink()
    prometheus = services.Prometheus(port, conf / "prometheus.yml", tmp_path / "prom").start()
    try:
        def firing():
            with urllib.request.urlopen(f"{prometheus.url}/api/v1/alerts", timeout=2) as response:
                return {alert["labels"]["alertname"] for alert in json.load(response)["data"]["alerts"]
                        if alert["state"] == "firing"}

        assert "ConsoleEscalationOverdue" in wait_until(
            lambda: "ConsoleEscalationOverdue" in firing() and firing(), 60,
            message="Prometheus to fire ConsoleEscalationOverdue")
    finally:
        prometheus.stop()
