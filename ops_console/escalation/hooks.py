"""How the escalation engine hears of incident changes: receivers of the
incidents app's signals, connected in EscalationConfig.ready(). Each runs
inside the incident action's transaction, so the engine's due rows exist
exactly when the incident change commits."""
from ops_console.incidents.models import Status
from ops_console.incidents.signals import (commander_set, incidents_opened, responder_added, severity_changed,
                                           status_changed)

from . import engine, person_pages
from .models import Page


def on_incidents_opened(sender, incidents, services, **kwargs):
    """Freeze the policy in force onto each new incident and schedule its levels,
    in a fixed number of queries; `services`: {incident pk: [its services]}."""
    engine.start_many(incidents, opened_with=services)
    for incident in incidents:
        if incident.commander_id:  # opened with a commander: paged like one set later
            person_pages.page_person(incident, incident.commander, Page.COMMANDER)


def on_status_changed(sender, incident, old, new, **kwargs):
    if new == Status.ACKNOWLEDGED:  # stop the levels that stop on acknowledgement
        engine.acknowledged(incident)
    elif new in (Status.RESOLVED, Status.CLOSED):  # stop every level
        engine.resolved(incident)
    elif new == Status.TRIGGERED:
        # Reopened (only a resolved incident may become triggered again): the escalation
        # starts again from its first level, with the policy frozen for its current severity.
        engine.reopened(incident)
    elif new == Status.MITIGATED and old == Status.TRIGGERED:
        # Mitigating an unacknowledged incident is acknowledging it in practice.
        engine.acknowledged(incident)


def on_severity_changed(sender, incident, old_severity, **kwargs):
    """Restart the clock on the new severity's levels."""
    engine.restart(incident)


def on_commander_set(sender, incident, commander, **kwargs):
    """The new commander is paged, once per incident."""
    person_pages.page_person(incident, commander, Page.COMMANDER)


def on_responder_added(sender, incident, responder, **kwargs):
    """A responder someone added is paged, once per incident."""
    person_pages.page_person(incident, responder, Page.RESPONDER)


def connect():
    incidents_opened.connect(on_incidents_opened, dispatch_uid="escalation.incidents_opened")
    status_changed.connect(on_status_changed, dispatch_uid="escalation.status_changed")
    severity_changed.connect(on_severity_changed, dispatch_uid="escalation.severity_changed")
    commander_set.connect(on_commander_set, dispatch_uid="escalation.commander_set")
    responder_added.connect(on_responder_added, dispatch_uid="escalation.responder_added")
