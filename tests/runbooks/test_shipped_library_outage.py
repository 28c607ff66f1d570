"""The shipped library during a real outage: ServiceDown fires in a real
Prometheus (its backend target is a port where nothing listens), the alert
opens an incident with the service-down runbook, and a run of that runbook on
a real worker goes through every read-only diagnostic (on_failure=report),
reporting what each found, instead of stopping at the first check that the
outage makes false."""
import json
from pathlib import Path

import pytest
from django.db import transaction

from ops_console.incidents import ingest
from ops_console.incidents.models import Incident
from ops_console.monitoring import prometheus as prom
from ops_console.runbooks import engine, library, params
from ops_console.runbooks.models import Run, StepRun
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def service_down_incident():
    """An incident opened the way Alertmanager's delivery of the real alert opens it."""
    def firing():
        return [a for a in prom.alerts() if a["labels"]["alertname"] == "ServiceDown" and a["state"] == "firing"]

    alerts = wait_until(firing, 30, message="ServiceDown firing")
    body = json.dumps({"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": a["labels"], "annotations": a["annotations"], "startsAt": a["activeAt"]}
        for a in alerts]})
    with transaction.atomic():
        ingest.apply_alertmanager(ingest.parse_alertmanager(body))
    return Incident.objects.get(title__startswith="ServiceDown")


def test_service_down_runs_every_diagnostic_and_marks_what_it_found(worker_control, shipped_rules_prometheus,
                                                                     settings, make_user, client):
    prometheus = shipped_rules_prometheus
    prom.reset_breaker()
    settings.PROMETHEUS_URL = prometheus.url
    worker_control.start(extra_env={"PROMETHEUS_URL": prometheus.url})
    assert all(saved.status != library.INVALID for _, saved in library.sync_directory(REPO / "runbooks"))
    incident = service_down_incident()
    assert incident.runbook.slug == "service-down"
    labels = incident.alerts.get().labels
    assert labels["instance"] == prometheus.dead_target

    version = incident.runbook.current_version
    doc = version.parsed()
    values, errors = params.validate(doc.parameters, {"job": labels["job"],
                                                      "health_url": f"http://{labels['instance']}/health"})
    assert errors == {}
    responder = make_user("responder")
    run = engine.start_run(version, values, actor=responder, context={"incident": incident.reference})

    diagnostics = [s.index for s in doc.steps if s.on_failure == "report"]
    assert len(diagnostics) == 7

    def diagnostics_done():
        rows = StepRun.objects.filter(run=run, index__in=diagnostics)
        return all(row.status in StepRun.FINISHED for row in rows) and Run.objects.get(pk=run.pk).status

    status = wait_until(diagnostics_done, 90, message="every diagnostic of service-down to finish")
    assert status == Run.WAITING     # not failed: the checklist and the mitigation wait for people
    steps = {row.title: row for row in run.steps.all()}
    down = steps["Targets of the job that are down"]
    assert (down.status, down.expectation_met) == (StepRun.SUCCEEDED, False)      # found the dead target
    assert [sample["labels"]["instance"] for sample in down.value] == [prometheus.dead_target]
    health = steps["Health endpoint answers"]
    assert health.status == StepRun.FAILED and "Connection" in health.error   # nothing answers: reported, not fatal
    assert steps["Restart the workload"].status == StepRun.PENDING             # a person decides
    client.force_login(responder)
    page = client.get(run.get_absolute_url()).content.decode()
    assert "✗ not met: found" in page


def test_every_alert_runbook_reports_its_diagnostics_instead_of_stopping():
    """Every step an alert runbook runs by itself before the first change a
    person confirms is a diagnostic: it reports what it found and the run goes on."""
    from ops_console.runbooks.parser import parse

    stopping = []
    for path in sorted((REPO / "runbooks").glob("*.md")):
        doc, _ = parse(path.read_text(), path=path.name)
        if not doc.alerts or path.name == "README.md" or path.stem.startswith("gameday"):
            continue
        for step in doc.steps:
            if step.kind == "approval" or step.confirm or (step.kind == "shell" and not step.auto):
                break
            if step.kind != "manual" and step.on_failure != "report":
                stopping.append(f"{path.name}:{step.line} {step.title}")
    assert stopping == []
