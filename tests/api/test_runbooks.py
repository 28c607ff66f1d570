"""/api/v1/runbooks and /api/v1/runs through HTTP: per role, parameters checked
as the Start page checks them, secrets never echoed, step actions and cancel."""
import json

import pytest

from ops_console.audit.models import AuditEntry
from ops_console.runbooks.document import Parameter
from ops_console.runbooks.models import Run, StepRun

from .conftest import ROLES, error_of
from tests.runbooks.builders import make_doc, make_version, start, step

SECRET = "hunter2-very-secret"


def runbook_with_params():
    return make_version(make_doc(
        step("manual", "Tell the team"), step("approval", "Go ahead?"),
        parameters=[Parameter(name="job", pattern="[a-z]+", required=True),
                    Parameter(name="count", type="int", default=3),
                    Parameter(name="dry_run", type="bool"),
                    Parameter(name="password", type="secret", pattern="[a-z0-9-]+")])).runbook


@pytest.mark.parametrize("role", [*ROLES, None])
def test_read_per_role(api_as, role):
    runbook = runbook_with_params()
    run = start(step("manual", "Tell"))
    api = api_as(role)
    paths = ["/api/v1/runbooks", "/api/v1/runs", f"/api/v1/runbooks/{runbook.slug}",
             f"/api/v1/runbooks/{runbook.slug}/versions/1",
             f"/api/v1/runs/{run.pk}"]
    for path in paths:
        assert api.get(path).status_code == (403 if role is None else 200), path


@pytest.mark.parametrize("role", ROLES)
def test_start_per_role(api_as, role):
    runbook = runbook_with_params()
    response = api_as(role).post(f"/api/v1/runbooks/{runbook.slug}/runs", {"parameters": {"job": "backend"}})
    if role == "auditor":
        assert response.status_code == 403 and not Run.objects.exists()
    else:
        assert response.status_code == 201
        run = Run.objects.get()
        assert response.json()["id"] == run.pk and run.parameters["job"] == "backend"
        assert run.parameters["count"] == 3 and run.parameters["dry_run"] is False


def test_parameters_checked_as_the_start_page(api_as):
    runbook = runbook_with_params()
    api = api_as("responder")
    response = api.post(f"/api/v1/runbooks/{runbook.slug}/runs",
                        {"parameters": {"job": "Not Valid!", "count": "many", "extra": 1,
                                        "password": "BAD SECRET " + SECRET}})
    assert response.status_code == 400
    code, _, details = error_of(response)
    assert code == "bad_request"
    assert {d["field"] for d in details} == {"parameters.job", "parameters.count", "parameters.extra",
                                             "parameters.password"}
    assert SECRET not in response.content.decode()
    assert not Run.objects.exists()
    assert api.post(f"/api/v1/runbooks/{runbook.slug}/runs", {"parameters": {}}).status_code == 400
    assert api.post(f"/api/v1/runbooks/{runbook.slug}/runs",
                    {"parameters": {"job": "x"}, "incident": "not a ref"}).status_code == 422


def test_secret_parameters_never_echoed(api_as):
    runbook = runbook_with_params()
    api = api_as("responder")
    response = api.post(f"/api/v1/runbooks/{runbook.slug}/runs",
                        {"parameters": {"job": "backend", "password": SECRET}, "incident": "INC-4"})
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    assert response.json()["parameters"]["password"] == "****"
    assert response.json()["context"] == {"incident": "INC-4"}
    for text in (response.content.decode(), api.get(f"/api/v1/runs/{run_id}").content.decode(),
                 api_as("auditor").get("/api/v1/audit").content.decode()):
        assert SECRET not in text
    assert SECRET not in json.dumps(list(AuditEntry.objects.values("before", "after")))


def test_step_actions(api_as):
    run = start(step("manual", "Tell the team"), step("approval", "Go ahead?"), step("manual", "Last"))
    responder, commander = api_as("responder"), api_as("commander")
    confirm = responder.post(f"/api/v1/runs/{run.pk}/steps/1/confirm")
    assert confirm.status_code == 200, confirm.content
    assert confirm.json()["steps"][0]["status"] == "succeeded"
    # Approving is the commander's, as on the page.
    assert responder.post(f"/api/v1/runs/{run.pk}/steps/2/approve").status_code == 403
    assert commander.post(f"/api/v1/runs/{run.pk}/steps/2/approve").status_code == 200
    skipped = responder.post(f"/api/v1/runs/{run.pk}/steps/3/skip")
    assert skipped.status_code == 200 and skipped.json()["steps"][2]["status"] == "skipped"
    assert skipped.json()["finished"] is True
    again = responder.post(f"/api/v1/runs/{run.pk}/steps/3/skip")
    assert again.status_code == 409 and error_of(again)[0] == "conflict"
    assert responder.post(f"/api/v1/runs/{run.pk}/steps/9/confirm").status_code == 404
    assert AuditEntry.objects.filter(object_type="runbooks.run", object_id=str(run.pk)).count() >= 1


@pytest.mark.parametrize("role", ROLES)
def test_cancel_per_role(api_as, role):
    run = start(step("manual", "Tell"))
    response = api_as(role).post(f"/api/v1/runs/{run.pk}/cancel")
    run.refresh_from_db()
    if role in ("commander", "admin"):
        assert response.status_code == 200 and run.status == Run.CANCELLED
    else:
        assert response.status_code == 403 and run.status != Run.CANCELLED


def test_read_token_cannot_start_or_act(api_as):
    runbook = runbook_with_params()
    run = start(step("manual", "Tell"))
    api = api_as("admin", scope="read")
    assert api.post(f"/api/v1/runbooks/{runbook.slug}/runs", {"parameters": {"job": "x"}}).status_code == 403
    assert api.post(f"/api/v1/runs/{run.pk}/steps/1/confirm").status_code == 403
    assert api.post(f"/api/v1/runs/{run.pk}/cancel").status_code == 403
    assert StepRun.objects.get(run=run).status != "succeeded"


def test_run_shows_attempts(api_as):
    from ops_console.runbooks.models import StepAttempt

    run = start(step("manual", "Tell"))
    step_run = run.steps.get()
    StepAttempt.objects.create(step_run=step_run, number=1, status="failed", output="first try\n", exit_code=1)
    body = api_as("auditor").get(f"/api/v1/runs/{run.pk}").json()
    assert body["steps"][0]["attempt_history"][0]["output"] == "first try\n"
    assert body["steps"][0]["attempt_history"][0]["exit_code"] == 1


def test_runbook_list_paginates(api_as):
    for _ in range(3):
        make_version(make_doc(step("manual", "x")))
    api = api_as("auditor")
    first = api.get("/api/v1/runbooks", {"limit": 2}).json()
    second = api.get("/api/v1/runbooks", {"limit": 2, "cursor": first["next"]}).json()
    assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next"] is None
    assert api.get("/api/v1/runbooks/nope").status_code == 404


def test_runs_list_filters(api_as):
    a = start(step("manual", "Tell"), context={"incident": "INC-7"})
    b = start(step("manual", "Tell"))
    api = api_as("responder")
    assert [r["id"] for r in api.get("/api/v1/runs").json()["items"]] == [b.pk, a.pk]
    assert [r["id"] for r in api.get("/api/v1/runs", {"incident": "INC-7"}).json()["items"]] == [a.pk]
    assert [r["id"] for r in api.get("/api/v1/runs", {"runbook": b.runbook.slug}).json()["items"]] == [b.pk]


def test_runbook_list_alert_filter(api_as):
    """As the library page: runbooks whose `alerts` include the name, in any case."""
    from ops_console.runbooks.models import Runbook

    errors_rb = make_version(make_doc(step("manual", "x"))).runbook
    disk = make_version(make_doc(step("manual", "x"))).runbook
    make_version(make_doc(step("manual", "x")))
    Runbook.objects.filter(pk=errors_rb.pk).update(alerts=["HighErrorRate", "HighLatency"])
    Runbook.objects.filter(pk=disk.pk).update(alerts=["DiskFull"])
    api = api_as("auditor")

    def slugs(**params):
        response = api.get("/api/v1/runbooks", params)
        assert response.status_code == 200
        return [r["slug"] for r in response.json()["items"]]

    assert slugs(alert="HighLatency") == [errors_rb.slug]
    assert slugs(alert="diskfull") == [disk.slug]
    assert slugs(alert="High") == []
    assert len(slugs()) == 3
