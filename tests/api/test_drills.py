"""/api/v1/drills through HTTP: read by whoever may see the Drills report
(runbooks.view_drillresult), never changed; filters and cursor pages."""
from datetime import timedelta

import pytest

from ops_console.runbooks.models import DrillResult

from .conftest import ROLES, error_of
from tests.runbooks.builders import start, step


def drill(passed=True, recovery=45.0, **kw):
    run = start(step("manual", "Inject the fault"))
    t0 = run.created_at + timedelta(minutes=5)
    return DrillResult.objects.create(
        run=run, runbook=run.runbook, targets={"detection": 5, "recovery": 60}, fault_injected_at=t0,
        detected_at=t0 + timedelta(seconds=4), recovered_at=t0 + timedelta(seconds=recovery), detection_seconds=4.0,
        recovery_seconds=recovery, detection_met=True, recovery_met=passed, passed=passed,
        events={"fault_injected": {"at": t0.isoformat(), "by": "click", "user": "rita"}}, **kw)


@pytest.mark.parametrize("role", [*ROLES, None])
def test_read_per_role(api_as, role):
    result = drill()
    api = api_as(role)
    listed, read = api.get("/api/v1/drills"), api.get(f"/api/v1/drills/{result.pk}")
    allowed = api.user.has_perm("runbooks.view_drillresult")
    assert allowed == (role is not None)   # every role sees the Drills report; a user without one does not
    if not allowed:
        assert listed.status_code == read.status_code == 403
        assert error_of(listed)[0] == error_of(read)[0] == "forbidden"
        return
    assert listed.status_code == read.status_code == 200
    body = read.json()
    assert listed.json() == {"items": [body], "next": None}
    assert (body["id"], body["run"], body["runbook"], body["passed"], body["detection_seconds"],
            body["recovery_seconds"], body["targets"], body["run_url"]) == (
        result.pk, result.run_id, result.runbook.slug, True, 4.0, 45.0, {"detection": 5, "recovery": 60},
        f"/runs/{result.run_id}/")
    assert body["events"]["fault_injected"]["by"] == "click" and body["over_budget"] == []


def test_anonymous_is_401_and_nothing_changes(api_as):
    from .conftest import ApiClient

    result = drill()
    assert ApiClient(None).get("/api/v1/drills").status_code == 401
    admin = api_as("admin")
    for method in ("post", "delete"):
        response = getattr(admin, method)(f"/api/v1/drills/{result.pk}")
        assert response.status_code == 405 and error_of(response)[0] == "method_not_allowed"
    assert admin.get("/api/v1/drills/999999").status_code == 404


def test_filters_and_pages(api_as):
    passed, failed = drill(), drill(passed=False, recovery=90.0)
    api = api_as("auditor")

    def ids(**params):
        response = api.get("/api/v1/drills", params)
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["items"]]

    assert ids() == [failed.pk, passed.pk]
    assert ids(passed="true") == [passed.pk] and ids(passed="false") == [failed.pk]
    assert ids(runbook=passed.runbook.slug) == [passed.pk] and ids(runbook="nope") == []
    today = passed.run.created_at.date()
    assert ids(since=today.isoformat()) == [failed.pk, passed.pk]
    assert ids(until=(today - timedelta(days=1)).isoformat()) == []
    first = api.get("/api/v1/drills", {"limit": 1}).json()
    assert [r["id"] for r in first["items"]] == [failed.pk] and ids(limit=1, cursor=first["next"]) == [passed.pk]
