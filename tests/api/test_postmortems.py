"""/api/v1/incidents/{reference}/postmortem through HTTP: read by every role (as the
page), saved by commanders and admins through do_save_postmortem, with the page's
audit entry; a stale base version is 409 and nothing is lost or saved."""
import pytest
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from ops_console.history.models import PostmortemVersion
from ops_console.history.postmortems import do_save_postmortem

from .conftest import ROLES, error_of
from tests.incidents.conftest import open_incident


def url(incident, rest=""):
    return f"/api/v1/incidents/{incident.reference}/postmortem{rest}"


@pytest.mark.parametrize("role", [*ROLES, None])
def test_read_per_role(api_as, make_user, role):
    incident = open_incident("Checkout errors")
    author = make_user("commander")
    do_save_postmortem(incident, "# First", acting_user=author)
    do_save_postmortem(incident, "# Second\n\nIt was DNS.", acting_user=author, base_number=1, note="root cause")
    api = api_as(role)
    paths = [url(incident), url(incident, "/versions"), url(incident, "/versions/1"), url(incident, "/draft")]
    if role is None:
        assert [api.get(p).status_code for p in paths] == [403] * 4
        return
    latest = api.get(url(incident)).json()
    assert latest == {"incident": incident.reference, "number": 2, "latest": 2, "body": "# Second\n\nIt was DNS.",
                      "created_at": latest["created_at"], "created_by": author.username, "note": "root cause",
                      "url": f"/incidents/{incident.reference}/postmortem/v2/"}
    assert [v["number"] for v in api.get(url(incident, "/versions")).json()["items"]] == [2, 1]
    first = api.get(url(incident, "/versions/1")).json()
    assert first["body"] == "# First" and first["number"] == 1 and first["latest"] == 2
    assert api.get(url(incident, "/draft")).json()["body"].startswith(
        f"# Postmortem: {incident.reference} Checkout errors")


@pytest.mark.parametrize("role", ROLES)
def test_save_per_role(api_as, role):
    incident, api = open_incident(), api_as(role)
    before = AuditEntry.objects.count()
    response = api.post(url(incident), {"body": "# It was DNS", "note": "first pass"})
    if role in ("commander", "admin"):
        assert response.status_code == 201, response.content
        assert response.json()["number"] == 1 and response.json()["note"] == "first pass"
        assert PostmortemVersion.objects.get().body == "# It was DNS"
        assert AuditEntry.objects.count() == before + 1
    else:
        assert response.status_code == 403 and error_of(response)[0] == "forbidden"
        assert not PostmortemVersion.objects.exists() and AuditEntry.objects.count() == before


def test_the_audit_entry_equals_the_page(client_as, api_as):
    client = client_as("commander")
    by_page, by_api = open_incident(), open_incident()
    client.post(reverse("history:postmortem_edit", args=[by_page.reference]),
                {"body": "# It was DNS", "base": "0", "note": "first"})
    page_entry = AuditEntry.objects.order_by("-id").first()
    api_as(None, user=client.user).post(url(by_api), {"body": "# It was DNS", "base_version": 0, "note": "first"})
    api_entry = AuditEntry.objects.order_by("-id").first()
    assert page_entry.action == api_entry.action == "postmortem.saved"
    assert (api_entry.object_type, api_entry.actor_id, api_entry.before, api_entry.after) == \
        (page_entry.object_type, page_entry.actor_id, page_entry.before, page_entry.after)


def test_versions_stale_and_refusals(api_as):
    incident = open_incident()
    api = api_as("commander")
    assert api.get(url(incident)).status_code == 404  # none yet; the draft is there
    assert error_of(api.get(url(incident)))[0] == "not_found"
    assert api.post(url(incident), {"body": "# One"}).status_code == 201
    second = api.post(url(incident), {"body": "# Two", "base_version": 1})
    assert second.status_code == 201 and second.json()["number"] == 2
    stale = api.post(url(incident), {"body": "# Mine, from version 1", "base_version": 1})
    assert stale.status_code == 409
    code, message, details = error_of(stale)
    assert code == "conflict" and details == {"field": "base_version", "latest": 2} and "version 2" in message
    same = api.post(url(incident), {"body": "# Two", "base_version": 2})
    assert same.status_code == 400 and error_of(same)[2] == {"field": "body"}
    assert api.post(url(incident), {"body": "", "base_version": 2}).status_code == 422
    assert api.post(url(incident), {"base_version": 2}).status_code == 422
    assert api.post("/api/v1/incidents/INC-999999/postmortem", {"body": "# x"}).status_code == 404
    assert api.get(url(incident, "/versions/9")).status_code == 404
    assert PostmortemVersion.objects.count() == 2
    page = api.get(url(incident, "/versions"), {"limit": 1}).json()
    rest = api.get(url(incident, "/versions"), {"limit": 1, "cursor": page["next"]}).json()
    assert [v["number"] for v in page["items"] + rest["items"]] == [2, 1] and rest["next"] is None
