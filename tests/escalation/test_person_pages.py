"""Pages to a named person: made commander or added as responder (once), and
the reminder to whoever acknowledged an incident still open after its
severity's update cadence (once per cadence, by time travel)."""
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from ops_console.escalation import person_pages
from ops_console.escalation.models import Page
from ops_console.incidents.actions import do_acknowledge, do_add_responder, do_change_status, do_set_commander
from ops_console.incidents.models import TimelineEvent

from .conftest import open_incident, severity


def pages_to(user, reason):
    return list(Page.objects.filter(user=user, reason=reason))


def test_setting_a_commander_pages_them_once(no_repeats, make_user):
    lead, other, admin = make_user("commander"), make_user("commander"), make_user("admin")
    incident = open_incident("P1")
    do_set_commander(incident, lead, acting_user=admin)
    [page] = pages_to(lead, Page.COMMANDER)
    assert page.deliveries.get().channel == "E-Mail" and page.incident == incident
    assert TimelineEvent.objects.filter(incident=incident, kind="paged", message__contains="made incident commander",
                                        data__user=lead.username).count() == 1
    do_set_commander(incident, other, acting_user=admin)
    do_set_commander(incident, lead, acting_user=admin)   # back again: not paged a second time
    assert len(pages_to(lead, Page.COMMANDER)) == 1 and len(pages_to(other, Page.COMMANDER)) == 1


def test_an_incident_opened_with_a_commander_pages_them(no_repeats, make_user):
    from ops_console.incidents.actions import do_open_incident

    lead = make_user("commander")
    do_open_incident(title="db down", severity=severity("P1"), commander=lead)
    assert len(pages_to(lead, Page.COMMANDER)) == 1


def test_adding_a_responder_pages_them_once(no_repeats, make_user):
    helper, admin = make_user("responder"), make_user("admin")
    incident = open_incident("P1")
    do_add_responder(incident, helper, acting_user=admin)
    assert len(pages_to(helper, Page.RESPONDER)) == 1 and incident.responders.filter(pk=helper.pk).exists()
    with pytest.raises(ValidationError):
        do_add_responder(incident, helper, acting_user=admin)
    assert len(pages_to(helper, Page.RESPONDER)) == 1


def test_acknowledged_and_open_reminds_whoever_acknowledged_once_per_cadence(no_repeats, make_user):
    p1 = severity("P1")
    p1.update_cadence = timedelta(minutes=30)
    p1.save(update_fields=["update_cadence"])
    sre = no_repeats["oncall-sre"]
    incident = open_incident("P1")
    do_acknowledge(incident, acting_user=sre)
    incident.refresh_from_db()
    acked = incident.acknowledged_at
    assert person_pages.remind_acknowledged(acked + timedelta(minutes=29)) == []
    [first] = person_pages.remind_acknowledged(acked + timedelta(minutes=30))
    assert (first.user, first.reason, first.round) == (sre, Page.REMINDER, 1)
    assert person_pages.remind_acknowledged(acked + timedelta(minutes=31)) == []
    assert person_pages.remind_acknowledged(acked + timedelta(minutes=59)) == []
    [second] = person_pages.remind_acknowledged(acked + timedelta(minutes=60))
    assert second.round == 2
    do_change_status(incident, "resolved", acting_user=sre)
    assert person_pages.remind_acknowledged(acked + timedelta(minutes=90)) == []
    assert len(pages_to(sre, Page.REMINDER)) == 2
