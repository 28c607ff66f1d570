"""The shipped configuration in deploy/prometheus/: valid for promtool and
amtool, the alert rules of the source documents with runbook links, and
routing that pages on critical only."""
import subprocess

import pytest
import yaml

from .stack import ALERT_NAMES, render

pytestmark = pytest.mark.integration
CONSOLE = "https://ops.example.com"


@pytest.fixture
def conf(tmp_path):
    return render(tmp_path, console_url=CONSOLE)


def check(*argv):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_promtool_accepts_the_prometheus_config_and_rules(conf):
    assert "SUCCESS" in check("promtool", "check", "config", str(conf / "prometheus.yml"))
    assert "5 rules found" in check("promtool", "check", "rules", *map(str, (conf / "rules").glob("*.yml")))


def test_amtool_accepts_the_alertmanager_config(conf):
    assert "SUCCESS" in check("amtool", "check-config", str(conf / "alertmanager.yml"))


def test_every_placeholder_is_filled(conf):
    for path in conf.rglob("*.yml"):
        assert "${" not in path.read_text().replace("${...}", ""), path


def test_prometheus_scrapes_the_console_and_itself_and_loads_the_rules(conf):
    config = yaml.safe_load((conf / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["ops-console"]["metrics_path"] == "/metrics"
    assert jobs["ops-console"]["static_configs"][0]["targets"] == ["ops.example.com"]
    assert jobs["prometheus"]["static_configs"][0]["targets"] == ["127.0.0.1:9090"]
    assert config["rule_files"] == [f"{conf}/rules/*.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


def test_rules_are_the_documents_with_runbook_links(conf):
    rules = {rule["alert"]: rule for group in yaml.safe_load((conf / "rules" / "slo_violations.yml").read_text())
             ["groups"] for rule in group["rules"]}
    assert set(rules) == ALERT_NAMES
    slugs = {"HighLatency": "high-latency", "HighErrorRate": "high-error-rate", "ServiceDown": "service-down",
             "MemoryLeakSuspected": "memory-leak-suspected", "AIProcessingBacklog": "ai-processing-backlog"}
    for name, slug in slugs.items():
        assert rules[name]["annotations"]["runbook_url"] == f"{CONSOLE}/runbooks/{slug}/"
    assert rules["HighLatency"]["expr"].endswith("> 0.1") and rules["HighLatency"]["for"] == "2m"
    assert rules["ServiceDown"]["labels"]["severity"] == "critical"
    assert rules["MemoryLeakSuspected"]["labels"]["severity"] == "warning"
    assert rules["ServiceDown"]["annotations"]["summary"] == "Service {{ $labels.job }} is down"


def test_critical_pages_and_warnings_do_not_both_reaching_the_console(conf):
    config = yaml.safe_load((conf / "alertmanager.yml").read_text())
    route = config["route"]
    assert route["receiver"] == "console-notify"
    assert route["routes"][1:] == [{"matchers": ['severity="critical"'], "receiver": "console-page"}]
    # routes[0]: the console's alerts about itself go outside it (tests/monitoring/test_console_self.py).
    for receiver in config["receivers"]:
        if receiver["name"] == "console-self":
            continue
        (hook,) = receiver["webhook_configs"]
        assert hook["url"] == f"{CONSOLE}/api/v1/alerts/alertmanager" and hook["send_resolved"] is True
        assert hook["http_config"]["authorization"] == {"type": "Bearer", "credentials_file": str(conf / "token")}


def test_amtool_routes_critical_to_the_paging_receiver(conf):
    config = str(conf / "alertmanager.yml")
    assert check("amtool", "config", "routes", "test", "--config.file", config,
                 "severity=critical", "alertname=ServiceDown").splitlines()[0] == "console-page"
    assert check("amtool", "config", "routes", "test", "--config.file", config,
                 "severity=warning", "alertname=HighLatency").splitlines()[0] == "console-notify"


def test_a_service_that_is_down_pages_once_its_budget_burn_is_held_back(conf, tmp_path):
    # A real Alertmanager on the shipped configuration, given both alerts for one job.
    import json
    import urllib.request
    from datetime import datetime, timezone

    from devstack import services
    from tests.waiting import wait_until

    burns = yaml.safe_load((conf / "rules" / "slo_burn_rates.yml").read_text())
    pages = [rule for group in burns["groups"] for rule in group["rules"]
             if rule.get("alert") == "ErrorBudgetBurn" and rule["labels"]["severity"] == "critical"]
    assert pages and all(rule["labels"].get("job") for rule in pages if rule["labels"]["service"] == "backend")
    port = services.free_port()
    alertmanager = services.Alertmanager(port, conf / "alertmanager.yml", tmp_path / "am").start()
    try:
        now = datetime.now(timezone.utc).isoformat()
        alerts = [{"labels": {"alertname": "ServiceDown", "job": "backend", "severity": "critical"}, "startsAt": now},
                  {"labels": {"alertname": "ErrorBudgetBurn", "job": "backend", "service": "backend",
                              "slo": "availability", "severity": "critical"}, "startsAt": now},
                  {"labels": {"alertname": "ErrorBudgetBurn", "job": "ai_core", "service": "ai-core",
                              "slo": "availability", "severity": "critical"}, "startsAt": now}]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=10).close()

        def states():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/alerts", timeout=10) as answer:
                found = {(a["labels"]["alertname"], a["labels"]["job"]): a["status"] for a in json.load(answer)}
            return found if len(found) == 3 else None

        found = wait_until(states, 20, message="Alertmanager to hold the three alerts")
        wait_until(lambda: states()[("ErrorBudgetBurn", "backend")]["inhibitedBy"], 20,
                   message="the burn of the service that is down to be held back")
        found = states()
        assert found[("ServiceDown", "backend")]["state"] == "active"
        assert found[("ErrorBudgetBurn", "ai_core")]["state"] == "active"  # another service's burn still pages
    finally:
        alertmanager.stop()
