import pytest
from django.core.exceptions import ValidationError

from ops_console.incidents.models import TRANSITIONS, Incident, Severity, Status, TimelineEvent, TransitionNotAllowed

from .conftest import open_incident

ALL = list(Status.values)
ALLOWED = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}


def at_status(status):
    incident = open_incident()
    Incident.objects.filter(pk=incident.pk).update(status=status)
    incident.refresh_from_db()
    return incident


def test_default_severities_come_from_the_documents(db):
    codes = {s.code: s for s in Severity.objects.all()}
    assert list(codes) == ["P0", "P1", "P2", "P3"]
    assert codes["P0"].pages and codes["P1"].pages and codes["P2"].pages
    assert not codes["P3"].pages  # P3: a ticket, no page
    assert codes["P0"].ack_target < codes["P1"].ack_target < codes["P2"].ack_target


@pytest.mark.parametrize("old,new", sorted(ALLOWED))
def test_allowed_transition_moves_and_stamps_its_time(db, old, new):
    incident = at_status(old)
    fields = incident.transition(new)
    incident.save(update_fields=fields)
    incident.refresh_from_db()
    assert incident.status == new
    stamp = {"acknowledged": "acknowledged_at", "mitigated": "mitigated_at", "resolved": "resolved_at",
             "closed": "closed_at"}.get(new)
    if stamp:
        assert getattr(incident, stamp) is not None


@pytest.mark.parametrize("old,new", sorted((a, b) for a in ALL for b in ALL if (a, b) not in ALLOWED))
def test_refused_transition_says_why_and_changes_nothing(db, old, new):
    incident = at_status(old)
    with pytest.raises(TransitionNotAllowed) as excinfo:
        incident.transition(new)
    assert incident.reference in excinfo.value.message and new in excinfo.value.message
    incident.refresh_from_db()
    assert incident.status == old


def test_reopening_clears_the_resolution_but_keeps_the_acknowledgement(db):
    incident = at_status(Status.TRIGGERED)
    for status in ("acknowledged", "resolved", "triggered"):
        incident.save(update_fields=incident.transition(status))
    assert incident.resolved_at is None and incident.acknowledged_at is not None


def test_reference_round_trips(db):
    incident = open_incident()
    assert incident.reference == f"INC-{incident.pk}"
    assert Incident.objects.by_reference(incident.reference).get() == incident
    assert Incident.objects.by_reference("inc-x").count() == 0


def test_timeline_is_append_only(db):
    event = open_incident().timeline.get()
    event.message = "rewritten"
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()
    assert TimelineEvent.objects.get(pk=event.pk).message != "rewritten"
