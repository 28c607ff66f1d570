"""The escalation engine hears of incident changes through the incidents app's
signals (connected in EscalationConfig.ready), inside the action's transaction;
and the engine's fire path takes the audit chain first, like the actions, so the
two never deadlock."""
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections

from ops_console.audit import log as audit
from ops_console.escalation import engine
from ops_console.escalation.models import Escalation, Page, ScheduledLevel
from ops_console.incidents import signals
from ops_console.incidents.actions import do_change_severity, do_change_status, do_open_incident
from ops_console.incidents.models import Incident, Status
from tests.waiting import wait_until

from .conftest import open_incident, severity

MIN = timedelta(minutes=1)


def pending(incident):
    return ScheduledLevel.objects.filter(incident=incident, status=ScheduledLevel.PENDING)


def test_the_receivers_are_connected_at_startup():
    for signal in (signals.incidents_opened, signals.status_changed, signals.severity_changed):
        assert signal.has_listeners(Incident)


def test_opening_starts_the_escalation_and_resolving_stops_it(on_call):
    incident = open_incident("P1")
    escalation = Escalation.objects.get(incident=incident)
    assert escalation.severity == "P1" and escalation.stopped_at is None and pending(incident).exists()
    do_change_status(incident, Status.RESOLVED, acting_user=None)
    assert not pending(incident).exists()
    assert Escalation.objects.get(incident=incident).stopped_at is not None


def test_acknowledging_stops_the_levels_that_stop_on_acknowledgement(on_call):
    incident = open_incident("P1")
    do_change_status(incident, Status.ACKNOWLEDGED, acting_user=None)
    assert not pending(incident).filter(stop_on="ack").exists()


def test_reopening_and_a_new_severity_start_a_new_generation(on_call):
    incident = open_incident("P1")
    do_change_status(incident, Status.RESOLVED, acting_user=None)
    do_change_status(incident, Status.TRIGGERED, acting_user=None)
    assert Escalation.objects.get(incident=incident).generation == 2 and pending(incident).exists()
    do_change_severity(incident, severity("P0"), acting_user=None)
    escalation = Escalation.objects.get(incident=incident)
    assert escalation.generation == 3 and escalation.severity == "P0"


def test_the_signal_is_sent_inside_the_action_transaction(on_call):
    """A receiver that fails takes the incident change back with it."""
    def broken(sender, **kwargs):
        raise RuntimeError("receiver failed")

    signals.incidents_opened.connect(broken, dispatch_uid="test-broken")
    try:
        with pytest.raises(RuntimeError):
            do_open_incident(title="never opened", severity=severity("P1"))
    finally:
        signals.incidents_opened.disconnect(dispatch_uid="test-broken")
    assert not Incident.objects.filter(title="never opened").exists()
    assert not Escalation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_firing_waits_for_a_status_change_in_progress_instead_of_deadlocking(on_call):
    """do_change_status holds the chain and the incident, then cancels the levels.
    Had the engine locked those levels first, its timeline insert would wait for
    the incident and the action for the levels: a deadlock. The engine takes the
    chain first, waits, and then finds the levels cancelled."""
    incident = open_incident("P1")
    due = Escalation.objects.get(incident=incident).started_at + 60 * MIN
    holding, finish, errors, fired = threading.Event(), threading.Event(), [], []

    def status_change():  # do_change_status's locks, in its order, held until told to finish
        try:
            with audit.atomic():
                Incident.objects.select_for_update().filter(pk=incident.pk).values_list("pk").get()
                holding.set()
                finish.wait(30)
                engine.cancel(incident, "resolved")
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def fire():
        try:
            fired.extend(engine.fire_due(due))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    changer, firer = threading.Thread(target=status_change), threading.Thread(target=fire)
    changer.start()
    assert holding.wait(10)
    firer.start()

    def someone_waits_on_a_lock():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> "
                           "pg_backend_pid() AND datname = current_database()")
            return cursor.fetchone()[0]

    wait_until(someone_waits_on_a_lock, 10, interval=0.05, message="the engine to wait for a lock")
    finish.set()
    changer.join(30)
    firer.join(30)
    assert errors == []
    assert fired == [] and not Page.objects.filter(incident=incident).exists()
