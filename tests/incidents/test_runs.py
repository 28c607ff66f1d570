"""Runs started for an incident land on its timeline and its page."""
from ops_console.incidents.models import IncidentRun
from ops_console.runbooks.document import RunbookDocument
from ops_console.runbooks.engine import start_run
from ops_console.runbooks.models import Runbook, RunbookVersion

from .conftest import open_incident


def empty_version(slug="check-things"):
    runbook = Runbook.objects.create(slug=slug, title="Check things")
    doc = RunbookDocument(slug=slug, title="Check things")
    return RunbookVersion.objects.create(runbook=runbook, number=1, source="# Check things", sha256="x" * 64,
                                         document=doc.to_json())


def test_a_run_for_an_incident_is_linked_and_on_the_timeline(make_user):
    incident = open_incident()
    user = make_user("responder")
    run = start_run(empty_version(), {}, actor=user, context={"incident": incident.reference})
    assert IncidentRun.objects.get().run == run and IncidentRun.objects.get().incident == incident
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds == ["opened", "run_started", "run_finished"]  # no steps: it finishes at once
    assert incident.timeline.get(kind="run_started").actor == user


def test_a_run_without_an_incident_is_ignored(db):
    start_run(empty_version(), {}, actor=None, context={})
    start_run(empty_version("other"), {}, actor=None, context={"incident": "INC-999999"})
    assert not IncidentRun.objects.exists()


def test_incident_page_lists_runs_and_links_the_runbook(client_as):
    version = empty_version("high-error-rate")
    incident = open_incident(runbook=version.runbook)
    start_run(version, {}, actor=None, context={"incident": incident.reference})
    page = client_as("responder").get(incident.get_absolute_url()).content.decode()
    assert "Run " in page and "Check things" in page
    assert f"?incident={incident.reference}" in page
