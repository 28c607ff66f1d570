"""The schema at /api/v1/openapi.json and the docs page: served without a token,
every endpoint in the schema, and nothing from outside the console."""
import re

import openapi_spec_validator
import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from ops_console.api.urls import api


def api_routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield "/" + prefix + str(p.pattern), p
    return [(route, p) for route, p in walk(get_resolver().url_patterns)
            if route.startswith("/api/v1/")
            and getattr(p, "name", "") not in ("openapi-json", "openapi-view", "api-root")
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
                 "/api/v1/pagerduty/enqueue"):
        assert path in paths
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


def schema_operations(client):
    """(method, path with its parameters filled in) for every operation but PagerDuty's intake,
    with an incident, a runbook, a run and an audit entry to point at."""
    from ops_console.audit.models import AuditEntry
    from tests.incidents.conftest import open_incident
    from tests.runbooks.builders import start, step

    incident = open_incident()
    run = start(step("manual", "Tell"))
    values = {"reference": incident.reference, "slug": run.runbook.slug, "number": "1", "run_id": str(run.pk),
              "entry_id": str(AuditEntry.objects.order_by("id").first().pk)}
    schema = client.get("/api/v1/openapi.json").json()
    for path, item in schema["paths"].items():
        if path.startswith("/api/v1/pagerduty/"):
            continue
        for method in item:
            yield method.upper(), re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_every_operation_refuses_without_a_token_and_without_a_role(client, api_as):
    """Walked from the schema, so an endpoint added later is covered: 401 without a
    token, 403 for a user with no role, and 403 for every change made with a read token."""
    from .conftest import ApiClient

    nobody, reader = api_as(None), api_as("admin", scope="read")
    operations = list(schema_operations(client))
    assert len(operations) >= 20
    for method, path in operations:
        call = (lambda api: api.get(path)) if method == "GET" else (lambda api: api.post(path, {}))
        assert call(ApiClient(None)).status_code == 401, (method, path)
        assert call(nobody).status_code == 403, (method, path)
        if method != "GET":
            assert call(reader).status_code == 403, (method, path)
        else:
            assert call(reader).status_code == 200, (method, path)
