"""The board, the incident page, and who may change what (per role)."""
import datetime as dt
import re

import pytest
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from ops_console.incidents.models import ApiToken, Incident, Status, TimelineEvent

from .conftest import open_incident

ROLES = ["responder", "commander", "auditor", "admin"]


def url(name, incident):
    return reverse(f"incidents:{name}", args=[incident.reference])


# (url name, POST data, roles allowed)
INCIDENT_CHANGES = [
    ("acknowledge", {}, {"responder", "commander", "admin"}),
    ("notes", {"text": "looking"}, {"responder", "commander", "admin"}),
    ("status", {"status": "resolved"}, {"commander", "admin"}),
    ("severity", {"severity_code": "P0"}, {"commander", "admin"}),
    ("commander", {"commander": ""}, {"commander", "admin"}),
    ("responders", {"responder": ""}, {"commander", "admin"}),
    ("details", {"title": "Renamed"}, {"commander", "admin"}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,data,allowed", INCIDENT_CHANGES, ids=[c[0] for c in INCIDENT_CHANGES])
def test_incident_changes_per_role(client_as, make_user, role, name, data, allowed):
    incident = open_incident()
    if name == "severity":
        from .conftest import severity

        data = {"severity": severity("P0").pk}
    if name == "commander":
        data = {"commander": make_user("commander").pk}
    if name == "responders":
        data = {"responder": make_user("responder").pk}
    client = client_as(role)
    audit_before, events_before = AuditEntry.objects.count(), TimelineEvent.objects.count()
    response = client.post(url(name, incident), data)
    if role in allowed:
        assert response.status_code == 302
        assert AuditEntry.objects.count() > audit_before
    else:
        assert response.status_code == 403
        assert AuditEntry.objects.count() == audit_before
        assert TimelineEvent.objects.count() == events_before


@pytest.mark.parametrize("name", [c[0] for c in INCIDENT_CHANGES])
def test_changes_are_post_only(client_as, name):
    incident = open_incident()
    assert client_as("admin").get(url(name, incident)).status_code == 405


@pytest.mark.parametrize("role,status", [("responder", 403), ("auditor", 403), ("commander", 302)])
def test_open_by_hand(client_as, role, status):
    from .conftest import severity

    response = client_as(role).post(reverse("incidents:new"), {"title": "Checkout broken",
                                                               "severity": severity("P1").pk})
    assert response.status_code == status
    assert Incident.objects.filter(title="Checkout broken").exists() == (status == 302)


def test_open_by_hand_with_no_title_shows_the_error(client_as):
    response = client_as("commander").post(reverse("incidents:new"), {"title": ""})
    assert response.status_code == 200 and b"This field is required" in response.content


def test_refused_transition_shows_a_clear_message(client_as):
    incident = open_incident()
    client = client_as("commander")
    response = client.post(url("status", incident), {"status": "closed"}, follow=True)
    assert b"cannot become closed" in response.content
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_board_lists_open_incidents_and_filters(client_as):
    from .conftest import severity

    p0 = open_incident(title="Everything down", code="P0")
    open_incident(title="Slow", code="P3")
    done = open_incident(title="Old one")
    done.status = "closed"
    done.save(update_fields=["status"])
    client = client_as("auditor")
    page = client.get(reverse("incidents:index")).content.decode()
    assert "Everything down" in page and "Slow" in page and "Old one" not in page
    assert page.index("Everything down") < page.index("Slow")  # most severe first
    only_p0 = client.get(reverse("incidents:index"), {"severity": "P0"}).content.decode()
    assert "Slow" not in only_p0 and p0.reference in only_p0
    assert "Old one" in client.get(reverse("incidents:index"), {"status": "all"}).content.decode()
    assert severity("P0")


def test_board_partial_for_htmx(client_as):
    open_incident(title="Live one")
    response = client_as("responder").get(reverse("incidents:index"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and 'id="board"' in body and "<html" not in body and "Live one" in body


def test_empty_board(client_as):
    assert b"All quiet" in client_as("responder").get(reverse("incidents:index")).content


def test_incident_page_shows_controls_by_role(client_as):
    incident = open_incident()
    responder_page = client_as("responder").get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="acknowledge"' in responder_page and 'data-testid="to-resolved"' not in responder_page
    auditor_page = client_as("auditor").get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="acknowledge"' not in auditor_page and "Add note" not in auditor_page


def test_unknown_incident_is_404(client_as):
    assert client_as("auditor").get("/incidents/INC-999999/").status_code == 404


def test_live_partial_stops_polling_when_closed(client_as):
    incident = open_incident()
    client = client_as("responder")
    assert client.get(url("live", incident)).status_code == 200
    Incident.objects.filter(pk=incident.pk).update(status="closed")
    assert client.get(url("live", incident)).status_code == 286


@pytest.mark.parametrize("role,status", [("responder", 403), ("commander", 403), ("auditor", 403), ("admin", 200)])
def test_token_creation_is_admin_only(client_as, role, status):
    client = client_as(role)
    if role == "auditor":
        page = client.get(reverse("incidents:tokens")).content.decode()
        assert "Create token" not in page  # the list, read-only
    response = client.post(reverse("incidents:tokens"), {"name": "am"})
    assert response.status_code == status
    assert ApiToken.objects.filter(name="am").exists() == (status == 200)


def test_new_token_is_shown_once_and_stored_hashed(client_as):
    response = client_as("admin").post(reverse("incidents:tokens"), {"name": "am"})
    raw = response.context["new_raw"]
    token = ApiToken.objects.get()
    assert raw.startswith("oc_") and raw not in token.token_hash and token.prefix == raw[:10]
    assert ApiToken.objects.authenticate(raw) == token
    assert raw not in client_as("admin").get(reverse("incidents:tokens")).content.decode()


@pytest.mark.parametrize("role,status", [("commander", 403), ("auditor", 403), ("admin", 302)])
def test_token_revocation(client_as, role, status):
    from ops_console.incidents.intake_config import do_create_token

    token, raw = do_create_token("am", acting_user=None)
    assert client_as(role).post(reverse("incidents:revoke_token", args=[token.pk])).status_code == status
    assert (ApiToken.objects.authenticate(raw) is None) == (status == 302)


def routing_post(**changes):
    from ops_console.incidents.models import AlertRouting

    routing = AlertRouting.current()
    data = {"severity_label": "severity", "default_severity": routing.default_severity_id, "dedup_labels": "",
            "auto_resolve": "on", "mappings-TOTAL_FORMS": "1", "mappings-INITIAL_FORMS": "0",
            "mappings-MIN_NUM_FORMS": "0", "mappings-MAX_NUM_FORMS": "1000", "mappings-0-value": "disaster",
            "mappings-0-severity": routing.default_severity_id - 3}
    data.update(changes)
    return data


@pytest.mark.parametrize("role,status", [("commander", 403), ("auditor", 403), ("admin", 302)])
def test_routing_is_edited_by_admins_only(client_as, role, status):
    from ops_console.incidents.models import SeverityMapping

    client = client_as(role)
    if role == "auditor":
        assert client.get(reverse("incidents:routing")).status_code == 200  # read-only view
    response = client.post(reverse("incidents:routing"), routing_post(dedup_labels="alertname,service"))
    assert response.status_code == status
    assert SeverityMapping.objects.filter(value="disaster").exists() == (status == 302)
    if status == 302:
        assert AuditEntry.objects.get(action="alertrouting.changed").after["dedup_labels"] == "alertname,service"


def test_payload_inspection(client_as, post_json):
    from .conftest import AM_URL

    post_json(AM_URL, b"{broken")
    client = client_as("auditor")
    listing = client.get(reverse("incidents:payloads")).content.decode()
    assert "malformed JSON" in listing
    from ops_console.incidents.models import WebhookPayload

    detail = client.get(reverse("incidents:payload", args=[WebhookPayload.objects.get().pk]))
    assert b"{broken" in detail.content
    assert client_as("responder").get(reverse("incidents:payloads")).status_code == 403


def test_invalid_change_shows_what_is_wrong(client_as):
    incident = open_incident()
    response = client_as("commander").post(url("severity", incident), {"severity": "999999"}, follow=True)
    assert b"severity: Select a valid choice" in response.content
    incident.refresh_from_db()
    assert incident.severity.code == "P1"


def test_board_shows_maintenance_windows(client_as):
    from datetime import timedelta

    from django.utils import timezone

    from ops_console.escalation.models import MaintenanceWindow
    from ops_console.monitoring.models import Service

    service = Service.objects.create(slug="backend", name="Backend API")
    now = timezone.now()
    MaintenanceWindow.objects.create(service=service, starts_at=now - timedelta(minutes=5),
                                     ends_at=now + timedelta(hours=1), reason="Postgres upgrade")
    page = client_as("auditor").get(reverse("incidents:index")).content.decode()
    assert "Backend API</strong> in maintenance" in page and "Postgres upgrade" in page


def test_severity_edit_in_admin_is_audited(client_as):
    from ops_console.incidents.models import Severity

    p2 = Severity.objects.get(code="P2")
    response = client_as("admin").post(reverse("admin:incidents_severity_change", args=[p2.pk]), {
        "code": "P2", "name": "Medium", "rank": 2, "definition": "Partial degradation", "ack_target": "00:20:00",
        "update_cadence": "01:00:00", "resolution_target": "1 00:00:00", "pages": "on"})
    assert response.status_code == 302, response.content[:2000]
    entry = AuditEntry.objects.get(action="severity.changed")
    assert entry.before["ack_target"] != entry.after["ack_target"]


# --- the one incident page: everything the history's record showed --------------

def test_incident_page_shows_timeline_runs_pages_and_the_record_links(client_as, make_user):
    from tests.history import builders

    responder = make_user("responder", username="rita")
    inc = builders.incident("Disk full", "P0", summary="The **data** disk filled up.",
                            ack_after=dt.timedelta(minutes=3),
                            events=[("note", "Deleted <script>alert(1)</script> old logs", 5)])
    the_run = builders.run(incident=inc, started_by=responder)
    builders.page(inc, responder, acknowledged=True)
    response = client_as("auditor").get(reverse("incidents:detail", args=[inc.reference]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Deleted  old logs" in body or "Deleted old logs" in body.replace("  ", " ")
    assert "<script>alert(1)" not in body
    assert f'href="/runs/{the_run.pk}/"' in body and "rita" in body
    assert "On-call SRE" in response.context["pages"][0].role_name
    assert f'href="/incidents/{inc.reference}/export.csv"' in body
    assert f'href="/incidents/{inc.reference}/postmortem/"' in body
    assert f'href="/audit/?object=incidents.incident:{inc.pk}"' in body


def test_the_auditor_sees_the_one_incident_page_without_its_controls(client_as, make_user):
    from ops_console.history.postmortems import do_save_postmortem

    inc = open_incident()
    do_save_postmortem(inc, "# Postmortem", acting_user=make_user("commander"))
    body = client_as("auditor").get(reverse("incidents:detail", args=[inc.reference])).content.decode()
    # No change, note, status or acknowledge form: only signing out.
    assert re.findall(r'<form[^>]*action="([^"]*)"', body) == [reverse("accounts:logout")]
    assert 'data-testid="acknowledge"' not in body and "Start linked runbook" not in body
    assert 'data-testid="timeline"' in body and "Postmortem (v1)" in body
    commander = client_as("commander").get(reverse("incidents:detail", args=[inc.reference])).content.decode()
    assert reverse("incidents:notes", args=[inc.reference]) in commander  # the same page, with its controls


def test_incident_page_query_count_does_not_grow_with_the_timeline(client_as, django_assert_max_num_queries):
    from tests.history import builders

    client = client_as("auditor")
    small = builders.incident("small")
    with django_assert_max_num_queries(40) as few:
        client.get(reverse("incidents:detail", args=[small.reference]))
    big = builders.incident("big", events=[("note", f"note {n}", n) for n in range(40)])
    for _ in range(3):
        builders.run(incident=big)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("incidents:detail", args=[big.reference]))


def test_unknown_incident_is_404(client_as, db):
    client = client_as("auditor")
    assert client.get("/incidents/INC-999999/").status_code == 404
    assert client.get("/incidents/nonsense/").status_code == 404
