"""/api/v1/audit: for auditors and admins only, filtered and paged as the audit page."""
import pytest

from ops_console.audit.models import AuditEntry

from .conftest import ROLES, error_of
from tests.incidents.conftest import open_incident


@pytest.mark.parametrize("role", [*ROLES, None])
def test_audit_per_role(api_as, role):
    open_incident()
    api = api_as(role)
    entry = AuditEntry.objects.order_by("-id").first()
    allowed = role in ("auditor", "admin")
    for path in ("/api/v1/audit", f"/api/v1/audit/{entry.pk}"):
        response = api.get(path)
        assert response.status_code == (200 if allowed else 403), path
        if not allowed:
            assert error_of(response)[0] == "forbidden"


def test_filters_and_cursor(api_as):
    api = api_as("auditor")  # its token's creation is an entry too
    for n in range(3):
        open_incident(f"Incident {n}")
    opened = api.get("/api/v1/audit", {"action": "incident.opened", "limit": 2}).json()
    assert [e["action"] for e in opened["items"]] == ["incident.opened"] * 2
    rest = api.get("/api/v1/audit", {"action": "incident.opened", "cursor": opened["next"]}).json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    prefixed = api.get("/api/v1/audit", {"action": "apitoken."}).json()["items"]
    assert [e["action"] for e in prefixed] == ["apitoken.personal_created"]
    assert "ocp_" not in str(prefixed[0]["after"].get("token", ""))
    assert api.get("/api/v1/audit", {"since": "2026-05-02", "until": "2026-05-01"}).status_code == 400
