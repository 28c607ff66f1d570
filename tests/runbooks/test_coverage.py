"""Alert-rule coverage (coverage.py, the page, manage.py runbook_coverage) and
the board's flag for a firing alert without a runbook, against a real
Prometheus loaded with the shipped rules plus one rule no runbook answers."""
import json
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse

from ops_console.incidents import ingest
from ops_console.incidents.models import Incident
from ops_console.monitoring import prometheus as prom
from ops_console.runbooks import coverage, library
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules"
ROLES = ["admin", "commander", "responder", "auditor"]
# The console's alerts about itself go to a webhook of their own (docs/operations.md): no runbook names them yet.
CONSOLE_SELF = sorted(rule["alert"] for group in yaml.safe_load((RULES / "console_self.yml").read_text())["groups"]
                      for rule in group["rules"] if "alert" in rule)
SHIPPED = sum(1 for path in RULES.glob("*.yml") for group in yaml.safe_load(path.read_text())["groups"]
              for rule in group["rules"] if "alert" in rule)


@pytest.fixture
def loaded(db, settings, shipped_rules_prometheus):
    """The shipped library synced, the console pointed at the Prometheus."""
    prom.reset_breaker()
    settings.PROMETHEUS_URL, settings.BASE_URL = shipped_rules_prometheus.url, shipped_rules_prometheus.base_url
    assert all(saved.status != library.INVALID for _, saved in library.sync_directory(REPO / "runbooks"))
    return shipped_rules_prometheus


def test_every_loaded_rule_with_its_runbook_and_the_percentage(loaded):
    found = coverage.coverage()
    assert len(found.rules) == SHIPPED + 1 == 30
    assert sorted(rule.alert for rule in found.missing) == sorted(["UnansweredAlert", *CONSOLE_SELF])
    assert found.covered == 25 and found.percent == 83.3
    by_alert = {rule.alert: rule for rule in found.rules}
    assert (by_alert["ServiceDown"].runbook.slug, by_alert["ServiceDown"].matched_by) == ("service-down", "alerts")
    # Burn-rate alerts are named by no runbook: their runbook_url annotation links them.
    burn = next(rule for rule in found.rules if rule.group.startswith("slo:"))
    assert burn.matched_by == "runbook_url" and burn.runbook_url.startswith(loaded.base_url)


def test_a_runbook_url_elsewhere_is_no_runbook(settings):
    settings.BASE_URL = "https://ops.example"
    assert coverage.console_slug("https://ops.example/runbooks/disk-full/") == "disk-full"
    assert coverage.console_slug("/runbooks/disk-full/") == "disk-full"
    assert coverage.console_slug("https://wiki.example/runbooks/disk-full/") is None
    assert coverage.console_slug("https://ops.example/runbooks/disk-full/edit/") is None
    settings.BASE_URL = "https://example.org/ops"
    assert coverage.console_slug("https://example.org/ops/runbooks/disk-full/") == "disk-full"
    assert coverage.console_slug("https://example.org/runbooks/disk-full/") is None


def test_the_page_for_every_role(loaded, make_user):
    for role in ROLES:   # one sync of the library for all of them
        client = Client()
        client.force_login(make_user(role))
        page = client.get(reverse("runbooks:coverage")).content.decode()
        assert '<strong data-testid="coverage-percent">83.3%</strong>' in page, role
        row = page.split('data-testid="rule-UnansweredAlert"')[1].split("</tr>")[0]
        assert '<span class="bad">none</span>' in row
        row = page.split('data-testid="rule-ServiceDown"')[1].split("</tr>")[0]
        assert 'href="/runbooks/service-down/">Service down</a> <span class="muted">(by alert name)' in row


def test_the_page_needs_a_sign_in(db):
    response = Client().get(reverse("runbooks:coverage"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_page_says_when_prometheus_cannot_be_asked(db, client_as, settings):
    from devstack import services

    prom.reset_breaker()
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{services.free_port()}"
    response = client_as("responder").get(reverse("runbooks:coverage"))
    assert response.status_code == 503 and 'data-testid="coverage-error"' in response.content.decode()


def test_the_command_lists_the_rules_and_fails_below_the_minimum(loaded):
    out = StringIO()
    call_command("runbook_coverage", "--min", "80", stdout=out)
    lines = out.getvalue().splitlines()
    assert "UnansweredAlert\tunanswered\tnone" in lines
    assert "ServiceDown\tslo_violations\tservice-down (by alert name)" in lines
    assert lines[-1] == "coverage: 83.3% (25 of 30 alert rules have a runbook)"
    with pytest.raises(CommandError, match=r"^coverage 83.3% is below the minimum of 90%$"):
        call_command("runbook_coverage", "--min", "90", stdout=StringIO())


def firing_payload(*names):
    """Alertmanager's webhook body for alerts Prometheus has firing now."""
    def firing():
        alerts = [a for a in prom.alerts() if a["labels"]["alertname"] in names and a["state"] == "firing"]
        return alerts if {a["labels"]["alertname"] for a in alerts} == set(names) else None

    alerts = wait_until(firing, 30, message=f"{names} firing")
    return json.dumps({"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": a["labels"], "annotations": a["annotations"], "startsAt": a["activeAt"]}
        for a in alerts]})


def test_a_firing_alert_without_a_runbook_is_flagged_on_the_board(loaded, client_as):
    with transaction.atomic():
        ingest.apply_alertmanager(ingest.parse_alertmanager(firing_payload("UnansweredAlert", "ServiceDown")))
    unanswered = Incident.objects.get(title__startswith="UnansweredAlert")
    down = Incident.objects.get(title__startswith="ServiceDown")
    assert unanswered.runbook is None and down.runbook.slug == "service-down"
    page = client_as("responder").get(reverse("incidents:index")).content.decode()
    rows = {ref: page.split(f'data-reference="{ref}"')[1].split("</tr>")[0]
            for ref in (unanswered.reference, down.reference)}
    assert 'data-testid="no-runbook"' in rows[unanswered.reference]
    assert 'data-testid="no-runbook"' not in rows[down.reference]
