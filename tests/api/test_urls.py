"""The schema at /api/v1/openapi.json and the docs page: served without a token,
every endpoint in the schema, and nothing from outside the console."""
import re

import openapi_spec_validator
import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from ops_console.api.urls import api

from .conftest import error_of


def api_routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield "/" + prefix + str(p.pattern), p
    return [(route, p) for route, p in walk(get_resolver().url_patterns)
            if route.startswith("/api/v1/")
            and getattr(p, "name", "") not in ("openapi-json", "openapi-view", "api-root", "unknown")
            and p.lookup_str.startswith("ops_console.api")]


def test_schema_is_served_and_has_every_path(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.") and schema["info"]["title"] == "Ops Console API"
    paths = set(schema["paths"])
    served = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route) for route, _ in api_routes()}
    assert served and served <= paths, served - paths
    for path in ("/api/v1/incidents", "/api/v1/runs/{run_id}/cancel", "/api/v1/oncall", "/api/v1/audit",
                 "/api/v1/pagerduty/enqueue", "/api/v1/incidents/{reference}/postmortem", "/api/v1/schedules",
                 "/api/v1/schedules/{schedule_id}/enable", "/api/v1/oncall/{role}/overrides/{override_id}",
                 "/api/v1/drills", "/api/v1/drills/{drill_id}"):
        assert path in paths
    runbook_filters = {p["name"]: p for p in schema["paths"]["/api/v1/runbooks"]["get"]["parameters"]}
    assert "alert" in runbook_filters and "alert name" in runbook_filters["alert"]["description"]
    # The intake routes stay the incidents app's, outside this schema.
    assert "/api/v1/events" not in paths
    schemes = schema["components"]["securitySchemes"].values()
    assert schemes and all(s["scheme"] == "bearer" for s in schemes)


def test_schema_validates(client, db):
    """The library's own schema check: every operation has responses and a unique id."""
    schema = client.get("/api/v1/openapi.json").json()
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert all(op.get("responses") for item in schema["paths"].values() for op in item.values())


def test_docs_page_needs_nothing_from_outside(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html and "/static/ninja/" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), html
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200
    assert api.openapi_url in html or "openapi.json" in html


def test_schema_passes_openapi_spec_validator(client, db):
    openapi_spec_validator.validate(client.get("/api/v1/openapi.json").json())


def schema_operations(client, author):
    """(method, path with its parameters filled in) for every operation but PagerDuty's intake,
    with an incident and its postmortem, a runbook, a run and its drill result, a schedule, a
    rotation's override and an audit entry to point at."""
    from ops_console.audit.models import AuditEntry
    from ops_console.history.postmortems import do_save_postmortem
    from ops_console.runbooks.models import DrillResult
    from ops_console.runbooks.schedules import do_create_schedule
    from tests.incidents.conftest import open_incident
    from tests.runbooks.builders import start, step

    from .test_overrides import rotation_with_override

    incident = open_incident()
    do_save_postmortem(incident, "# What happened", acting_user=author)
    run = start(step("manual", "Tell"))
    schedule = do_create_schedule(name="Nightly", runbook=run.runbook, cron="0 2 * * *", acting_user=author)
    override = rotation_with_override()
    drill = DrillResult.objects.create(run=run, runbook=run.runbook, targets={"detection": 5})
    values = {"reference": incident.reference, "slug": run.runbook.slug, "number": "1", "run_id": str(run.pk),
              "entry_id": str(AuditEntry.objects.order_by("id").first().pk), "schedule_id": str(schedule.pk),
              "role": override.rotation.role.slug, "override_id": str(override.pk), "drill_id": str(drill.pk)}
    schema = client.get("/api/v1/openapi.json").json()
    for path, item in schema["paths"].items():
        if path.startswith("/api/v1/pagerduty/"):
            continue
        for method in item:
            yield method.upper(), re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_every_operation_refuses_without_a_token_and_without_a_role(client, api_as, make_user):
    """Walked from the schema, so an endpoint added later is covered: 401 without a
    token, 403 for a user with no role, and 403 for every change made with a read token."""
    from .conftest import ApiClient

    nobody, reader = api_as(None), api_as("admin", scope="read")
    operations = list(schema_operations(client, make_user("commander")))
    assert len(operations) >= 30
    assert {method for method, _ in operations} == {"GET", "POST", "DELETE"}
    for method, path in operations:
        assert ApiClient(None).call(method, path, {}).status_code == 401, (method, path)
        assert nobody.call(method, path, {}).status_code == 403, (method, path)
        assert reader.call(method, path, {}).status_code == (200 if method == "GET" else 403), (method, path)


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/v1/"), ("GET", "/api/v1/nothing-here"), ("POST", "/api/v1/incidents/INC-1/nope"),
    ("GET", "/api/v1/incidents/"), ("DELETE", "/api/v1/runs/1/steps"), ("GET", "/api/v1/v2/enqueue/extra/parts"),
])
def test_unknown_paths_answer_the_error_shape(api_as, method, path):
    """Also without a token: nothing is there to authenticate for."""
    from .conftest import ApiClient

    for api in (api_as("responder"), ApiClient(None)):
        response = api.call(method, path, {})
        assert response.status_code == 404 and response["Content-Type"] == "application/json", response.content
        code, message, details = error_of(response)
        assert code == "not_found" and path in message and details["schema"] == "/api/v1/openapi.json"


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", "/api/v1/incidents/INC-1/acknowledge", ["POST"]),
    ("DELETE", "/api/v1/incidents", ["GET", "POST"]),
    ("POST", "/api/v1/schedules/1", ["GET"]),
    ("GET", "/api/v1/oncall/sre/overrides/1", ["DELETE"]),
])
def test_wrong_methods_answer_the_error_shape(api_as, method, path, allowed):
    response = api_as("admin").call(method, path, {})
    assert response.status_code == 405
    code, _, details = error_of(response)
    assert code == "method_not_allowed" and sorted(details["allowed"]) == allowed


def test_the_pages_keep_their_html_404(client_as):
    response = client_as("responder").get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert client_as("responder").get("/incidents/INC-999999/").status_code == 404
