import pytest
from django.core.exceptions import ValidationError

from ops_console.audit.models import AuditEntry
from ops_console.incidents import actions
from ops_console.incidents.models import Status, TransitionNotAllowed
from ops_console.incidents.timeline import add_event

from .conftest import open_incident, severity


def kinds(incident):
    return list(incident.timeline.values_list("kind", flat=True))


def test_open_writes_timeline_and_audit(make_user):
    commander = make_user("commander")
    incident = open_incident(acting_user=commander, summary="5xx everywhere")
    assert incident.status == Status.TRIGGERED and incident.opened_by == commander
    assert kinds(incident) == ["opened"]
    entry = AuditEntry.objects.get(action="incident.opened")
    assert entry.actor == commander and entry.after["severity"] == "P1"


def test_open_needs_a_title(db):
    with pytest.raises(ValidationError):
        open_incident(title="  ")


def test_acknowledge_records_who_and_how(make_user):
    responder = make_user("responder")
    incident = open_incident()
    actions.do_acknowledge(incident, acting_user=responder, via="link")
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED and incident.acknowledged_at
    assert responder in incident.responders.all()
    event = incident.timeline.get(kind="acknowledged")
    assert event.actor == responder and event.data == {"via": "link"}
    assert AuditEntry.objects.get(action="incident.acknowledged").after == {"status": "acknowledged", "via": "link"}


def test_acknowledging_twice_is_refused_clearly(make_user):
    incident = open_incident()
    actions.do_acknowledge(incident, acting_user=make_user("responder"))
    with pytest.raises(TransitionNotAllowed, match="already acknowledged"):
        actions.do_acknowledge(incident, acting_user=make_user("responder"))
    assert kinds(incident).count("acknowledged") == 1


def test_status_change_refused_by_the_table_leaves_no_trace(make_user):
    incident = open_incident()
    audit_before = AuditEntry.objects.count()
    with pytest.raises(TransitionNotAllowed, match="cannot become closed"):
        actions.do_change_status(incident, Status.CLOSED, acting_user=make_user("commander"))
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED and kinds(incident) == ["opened"]
    assert AuditEntry.objects.count() == audit_before


def test_resolve_and_close(make_user):
    commander = make_user("commander")
    incident = open_incident()
    actions.do_change_status(incident, Status.RESOLVED, acting_user=commander)
    actions.do_change_status(incident, Status.CLOSED, acting_user=commander)
    assert incident.status == Status.CLOSED and incident.resolved_at and incident.closed_at
    assert kinds(incident) == ["opened", "status_change", "status_change"]


def test_severity_change_is_recorded(make_user):
    incident = open_incident(code="P2")
    actions.do_change_severity(incident, severity("P0"), acting_user=make_user("commander"), reason="customers down")
    incident.refresh_from_db()
    assert incident.severity.code == "P0"
    event = incident.timeline.get(kind="severity_change")
    assert event.data == {"from": "P2", "to": "P0"} and "customers down" in event.message
    with pytest.raises(ValidationError, match="already P0"):
        actions.do_change_severity(incident, severity("P0"), acting_user=None)


def test_commander_change(make_user):
    alice = make_user("commander", username="alice")
    incident = open_incident()
    actions.do_set_commander(incident, alice, acting_user=alice)
    assert incident.commander == alice and alice in incident.responders.all()
    assert incident.timeline.get(kind="commander_change").data == {"from": None, "to": "alice"}
    with pytest.raises(ValidationError):
        actions.do_set_commander(incident, alice, acting_user=alice)


def test_note_is_markdown_sanitized(make_user):
    incident = open_incident()
    note = "**rolled back** <script>alert(1)</script>"
    event = actions.do_add_note(incident, note, acting_user=make_user("responder"))
    assert "<strong>rolled back</strong>" in event.html
    assert "<script>" not in event.html
    with pytest.raises(ValidationError):
        actions.do_add_note(incident, "   ", acting_user=None)


def test_details_change_is_audited(make_user):
    incident = open_incident()
    actions.do_update_details(incident, acting_user=make_user("commander"), title="New title", summary="s",
                              impact="i", services=[])
    entry = AuditEntry.objects.get(action="incident.details_changed")
    assert entry.before["title"] == "Backend is down" and entry.after["title"] == "New title"


def test_add_event_for_the_escalation_engine(db):
    incident = open_incident()
    add_event(incident, "paged", message="Paged alice (on-call SRE)", data={"level": 0})
    assert kinds(incident) == ["opened", "paged"]
    with pytest.raises(ValueError):
        add_event(incident, "no-such-kind")
