"""/api/v1/incidents through HTTP: per role, filters, pagination, and the audit
entry of each change equal to the one the page writes."""
import pytest
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from ops_console.incidents import actions
from ops_console.incidents.models import Incident, TimelineEvent
from ops_console.monitoring.models import Service

from .conftest import ROLES, ApiClient, error_of
from tests.incidents.conftest import open_incident

# (path suffix, body, roles allowed): the same as the incident page's buttons (tests/incidents/test_views.py).
CHANGES = [
    ("acknowledge", {}, {"responder", "commander", "admin"}),
    ("notes", {"text": "looking"}, {"responder", "commander", "admin"}),
    ("status", {"status": "resolved"}, {"commander", "admin"}),
    ("severity", {"severity": "P0", "reason": "worse"}, {"commander", "admin"}),
]


@pytest.mark.parametrize("role", [*ROLES, None])
def test_read_per_role(api_as, role):
    incident = open_incident()
    api = api_as(role)
    allowed = role is not None
    for path in ("/api/v1/incidents", f"/api/v1/incidents/{incident.reference}",
                 f"/api/v1/incidents/{incident.reference}/timeline"):
        response = api.get(path)
        assert response.status_code == (200 if allowed else 403), path
    if allowed:
        body = api.get(f"/api/v1/incidents/{incident.reference}").json()
        assert body["reference"] == incident.reference and body["severity"] == "P1" and body["status"] == "triggered"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,body,allowed", CHANGES, ids=[c[0] for c in CHANGES])
def test_changes_per_role(api_as, role, name, body, allowed):
    incident = open_incident()
    api = api_as(role)
    before = AuditEntry.objects.count()
    response = api.post(f"/api/v1/incidents/{incident.reference}/{name}", body)
    if role in allowed:
        assert response.status_code in (200, 201), response.content
        assert AuditEntry.objects.count() == before + 1
    else:
        assert response.status_code == 403
        assert error_of(response)[0] == "forbidden"
        assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("role", ROLES)
def test_open_per_role(api_as, role):
    api = api_as(role)
    response = api.post("/api/v1/incidents", {"title": "Checkout slow", "severity": "P2"})
    if role in ("commander", "admin"):
        assert response.status_code == 201
        assert response.json()["reference"] == Incident.objects.get().reference
    else:
        assert response.status_code == 403 and not Incident.objects.exists()


@pytest.mark.parametrize("name,page_data,api_body", [
    ("acknowledge", {}, {}),
    ("notes", {"text": "Rolled back"}, {"text": "Rolled back"}),
    ("status", {"status": "mitigated"}, {"status": "mitigated"}),
])
def test_the_audit_entry_equals_the_page(client_as, api_as, name, page_data, api_body):
    """The API calls the page's do_* function: the same entry, whoever wrote it."""
    client = client_as("commander")
    by_page = open_incident()
    client.post(reverse(f"incidents:{name}", args=[by_page.reference]), page_data)
    page_entry = AuditEntry.objects.order_by("-id").first()
    api = api_as(None, user=client.user)
    by_api = open_incident()
    assert api.post(f"/api/v1/incidents/{by_api.reference}/{name}", api_body).status_code in (200, 201)
    api_entry = AuditEntry.objects.order_by("-id").first()
    for entry in (page_entry, api_entry):
        entry.after.pop("via", None)  # "web" or "api": the one difference, which says where it came from
    assert (api_entry.action, api_entry.object_type, api_entry.actor_id, api_entry.before, api_entry.after) == \
        (page_entry.action, page_entry.object_type, page_entry.actor_id, page_entry.before, page_entry.after)


def test_severity_change_same_as_page(client_as, api_as):
    client = client_as("commander")
    a, b = open_incident(), open_incident()
    from tests.incidents.conftest import severity
    client.post(reverse("incidents:severity", args=[a.reference]), {"severity": severity("P0").pk, "reason": "x"})
    page_entry = AuditEntry.objects.order_by("-id").first()
    api_as(None, user=client.user).post(f"/api/v1/incidents/{b.reference}/severity", {"severity": "P0", "reason": "x"})
    api_entry = AuditEntry.objects.order_by("-id").first()
    assert (api_entry.action, api_entry.before, api_entry.after) == (page_entry.action, page_entry.before,
                                                                      page_entry.after)
    assert TimelineEvent.objects.filter(incident=b, kind="severity_change").exists()


def test_filters_like_the_history(api_as):
    Service.objects.create(slug="checkout", name="Checkout")
    a = open_incident("Checkout errors", "P1", services=list(Service.objects.all()))
    b = open_incident("Disk full on db-2", "P3")
    api = api_as("auditor")

    def refs(**params):
        return [i["reference"] for i in api.get("/api/v1/incidents", params).json()["items"]]

    assert refs() == [b.reference, a.reference]
    assert refs(severity="P3") == [b.reference]
    assert refs(service="checkout") == [a.reference]
    assert refs(status="open") == [b.reference, a.reference]
    assert refs(status="resolved") == []
    assert refs(q="disk") == [b.reference]
    assert refs(since="2000-01-01", until="2000-01-02") == []
    response = api.get("/api/v1/incidents", {"since": "2026-02-02", "until": "2026-01-01"})
    assert response.status_code == 400 and error_of(response)[0] == "bad_request"
    assert api.get("/api/v1/incidents", {"since": "not-a-date"}).status_code == 422


def test_cursor_pagination(api_as):
    made = [open_incident(f"Incident {n}") for n in range(5)]
    api = api_as("responder")
    seen, cursor = [], None
    while True:
        body = api.get("/api/v1/incidents", {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [i["reference"] for i in body["items"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == [i.reference for i in reversed(made)]
    assert api.get("/api/v1/incidents", {"cursor": 0}).status_code == 400
    assert api.get("/api/v1/incidents", {"limit": 1000}).status_code == 422


def test_timeline_and_note(api_as):
    incident = open_incident()
    api = api_as("responder")
    note = api.post(f"/api/v1/incidents/{incident.reference}/notes", {"text": "Looking at the **logs**"})
    assert note.status_code == 201 and note.json()["kind"] == "note"
    kinds = [e["kind"] for e in api.get(f"/api/v1/incidents/{incident.reference}/timeline").json()["items"]]
    assert kinds == ["note", "opened"]
    assert api.post(f"/api/v1/incidents/{incident.reference}/notes", {"text": ""}).status_code == 422


def test_status_transition_refused_is_409(api_as):
    incident = open_incident()
    api = api_as("commander")
    assert api.post(f"/api/v1/incidents/{incident.reference}/status", {"status": "closed"}).status_code in (200, 409)
    response = api.post(f"/api/v1/incidents/{incident.reference}/status", {"status": "nonsense"})
    assert response.status_code == 422


@pytest.mark.parametrize("who,status,expected", [
    ("admin", "mitigated", 200), ("commander", "resolved", 200),
    ("responder on it", "mitigated", 200), ("responder on it", "resolved", 200),
    ("responder on it", "closed", 403), ("responder on it", "triggered", 403),
    ("responder not on it", "resolved", 403), ("auditor", "resolved", 403), ("anonymous", "resolved", 401),
])
def test_status_change_follows_the_page_rule(api_as, who, status, expected):
    """The page's rule (status_changes_for): a responder on the incident may mark it mitigated or resolved."""
    incident = open_incident()
    role = who.split()[0]
    api = api_as(role) if role != "anonymous" else ApiClient(None)
    if who == "responder on it":
        incident.responders.add(api.user)
    if status == "triggered":   # a change the state machine allows only from mitigated or resolved
        actions.do_change_status(incident, "resolved", acting_user=None)
    before = AuditEntry.objects.count()
    response = api.post(f"/api/v1/incidents/{incident.reference}/status", {"status": status})
    assert response.status_code == expected, response.content
    incident.refresh_from_db()
    if expected == 200:
        assert response.json()["status"] == status == incident.status
        assert AuditEntry.objects.count() == before + 1
        assert AuditEntry.objects.order_by("-id").first().actor_id == api.user.pk
    else:
        code, _, _ = error_of(response)
        assert code == ("forbidden" if expected == 403 else "unauthenticated")
        assert incident.status != status and AuditEntry.objects.count() == before


def test_a_responders_read_token_may_not_change_status(api_as):
    incident = open_incident()
    api = api_as("responder", scope="read")
    incident.responders.add(api.user)
    response = api.post(f"/api/v1/incidents/{incident.reference}/status", {"status": "resolved"})
    assert response.status_code == 403 and error_of(response)[0] == "scope"
