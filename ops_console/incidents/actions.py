"""Every change to an incident goes through one do_* function: it changes the
row, appends the timeline event, writes the audit entry and announces the
change (signals.py, heard by escalation), all in one transaction."""
from django.core.exceptions import ValidationError
from django.utils import timezone

from ops_console.audit import log as audit
from ops_console.database import copy_create
from ops_console.audit.log import record, record_many

from . import signals
from .models import Incident, Status, TimelineEvent, TransitionNotAllowed
from .timeline import Kind, add_event, new_event

NOTE_MAX_CHARS = 20_000


def snapshot(incident):
    return {
        "title": incident.title,
        "status": incident.status,
        "severity": incident.severity.code,
        "commander": incident.commander.get_username() if incident.commander_id else None,
    }


def _name(user):
    return user.get_username() if getattr(user, "pk", None) else "system"


def _lock(incident):
    """Row-lock the incident for the rest of the transaction and refresh the
    caller's copy, so two people acting at once are serialised. Called inside
    audit.atomic(), which has taken the audit chain's lock before this one."""
    Incident.objects.select_for_update().filter(pk=incident.pk).values_list("pk", flat=True).get()
    incident.refresh_from_db()
    return incident


def do_open_incident(*, title, severity, acting_user=None, services=(), summary="", impact="", dedup_key="",
                     source="manual", runbook=None, commander=None, detected_at=None, message=""):
    return do_open_incidents([dict(
        title=title, severity=severity, services=services, summary=summary, impact=impact, dedup_key=dedup_key,
        source=source, runbook=runbook, commander=commander, detected_at=detected_at, message=message)],
        acting_user=acting_user)[0]


@audit.creating
def do_open_incidents(specs, *, acting_user=None):
    """Open several incidents (a webhook delivery opening one per alert) with
    what do_open_incident writes for each: the row, its services, the "opened"
    event, the audit entry and the escalation, in a fixed number of queries.
    `specs`: dicts of do_open_incident's keyword arguments. Returns the incidents.
    It only creates rows, so inside audit.chained_at_end() (the alert appliers)
    its entries join the chain at the end of the caller's block."""
    now = timezone.now()
    prepared = [_new_incident(now, acting_user, **spec) for spec in specs]
    incidents = copy_create(incident for incident, _, _ in prepared)
    through = Incident.services.through
    copy_create(through(incident_id=incident.pk, service_id=service.pk)
                for incident, services, _ in prepared for service in services)
    copy_create(new_event(incident, Kind.OPENED, actor=acting_user, message=message, at=now,
                                                data={"severity": incident.severity.code, "source": incident.source})
                                      for incident, _, message in prepared)
    record_many([dict(action="incident.opened", obj=incident, actor=acting_user, after=snapshot(incident))
                 for incident in incidents])
    signals.incidents_opened.send(sender=Incident, incidents=incidents,
                                  services={incident.pk: services for incident, services, _ in prepared})
    return incidents


def _new_incident(now, acting_user, *, title, severity, services=(), summary="", impact="", dedup_key="",
                  source="manual", runbook=None, commander=None, detected_at=None, message=""):
    """(unsaved incident, its services, the "opened" message) for do_open_incidents."""
    title = (title or "").strip()
    if not title:
        raise ValidationError("An incident needs a title.")
    incident = Incident(
        title=title[:300], severity=severity, summary=summary, impact=impact, dedup_key=dedup_key[:300],
        source=source, runbook=runbook, commander=commander,
        opened_by=acting_user if getattr(acting_user, "pk", None) else None,
        detected_at=detected_at or now, created_at=now, updated_at=now)
    services = list({service.pk: service for service in services}.values())  # once each, as services.add() did
    return incident, services, message or f"Opened as {severity.code} by {_name(acting_user)} ({source})."


@audit.atomic
def do_change_status(incident, new_status, *, acting_user, via="web", message=""):
    """Move the incident along the state machine; TransitionNotAllowed if the
    table forbids it. Returns the incident (refreshed)."""
    _lock(incident)
    old = incident.status
    if new_status == old:
        raise TransitionNotAllowed(f"{incident.reference} is already {old}.")
    fields = incident.transition(new_status)
    incident.save(update_fields=fields)
    if new_status == Status.ACKNOWLEDGED and getattr(acting_user, "pk", None):
        incident.responders.add(acting_user)
    who = _name(acting_user)
    if new_status == Status.ACKNOWLEDGED and old == Status.TRIGGERED:
        add_event(incident, Kind.ACKNOWLEDGED, actor=acting_user, message=message or f"Acknowledged by {who} ({via}).",
                  data={"via": via})
        action = "incident.acknowledged"
    else:
        add_event(incident, Kind.STATUS_CHANGE, actor=acting_user,
                  message=message or f"{old} → {new_status} by {who} ({via}).",
                  data={"from": old, "to": new_status, "via": via})
        action = "incident.status_changed"
    record(action, obj=incident, actor=acting_user, before={"status": old}, after={"status": new_status, "via": via})
    signals.status_changed.send(sender=Incident, incident=incident, old=old, new=new_status)
    return incident


def do_acknowledge(incident, *, acting_user, via="web"):
    """via: "web", "link" (signed page link) or "api". Raises
    TransitionNotAllowed when the incident is not triggered any more."""
    if via not in ("web", "link", "api"):
        raise ValueError(f"unknown via {via!r}")
    return do_change_status(incident, Status.ACKNOWLEDGED, acting_user=acting_user, via=via)


@audit.atomic
def do_change_severity(incident, severity, *, acting_user, reason=""):
    _lock(incident)
    old = incident.severity
    if old.pk == severity.pk:
        raise ValidationError(f"{incident.reference} is already {severity.code}.")
    incident.severity = severity
    incident.updated_at = timezone.now()
    incident.save(update_fields=["severity", "updated_at"])
    text = f"Severity {old.code} → {severity.code} by {_name(acting_user)}."
    add_event(incident, Kind.SEVERITY_CHANGE, actor=acting_user, message=f"{text} {reason}".strip(),
              data={"from": old.code, "to": severity.code})
    record("incident.severity_changed", obj=incident, actor=acting_user, before={"severity": old.code},
           after={"severity": severity.code, "reason": reason})
    signals.severity_changed.send(sender=Incident, incident=incident, old_severity=old)
    return incident


@audit.atomic
def do_set_commander(incident, commander, *, acting_user):
    _lock(incident)
    old = incident.commander
    if (old.pk if old else None) == (commander.pk if commander else None):
        raise ValidationError(f"{_name(commander) if commander else 'Nobody'} is already the commander.")
    incident.commander = commander
    incident.updated_at = timezone.now()
    incident.save(update_fields=["commander", "updated_at"])
    if commander:
        incident.responders.add(commander)
    before, after = (u.get_username() if u else None for u in (old, commander))
    add_event(incident, Kind.COMMANDER_CHANGE, actor=acting_user,
              message=f"Commander {before or 'none'} → {after or 'none'} by {_name(acting_user)}.",
              data={"from": before, "to": after})
    record("incident.commander_changed", obj=incident, actor=acting_user, before={"commander": before},
           after={"commander": after})
    if commander:
        signals.commander_set.send(sender=Incident, incident=incident, commander=commander, old=old)
    return incident


@audit.atomic
def do_add_responder(incident, responder, *, acting_user):
    """Add someone to the incident's responders (they are paged: escalation listens)."""
    _lock(incident)
    if incident.responders.filter(pk=responder.pk).exists():
        raise ValidationError(f"{_name(responder)} is already a responder.")
    incident.responders.add(responder)
    incident.updated_at = timezone.now()
    incident.save(update_fields=["updated_at"])
    add_event(incident, Kind.NOTE, actor=acting_user,
              message=f"{_name(acting_user)} added {_name(responder)} as a responder.",
              data={"responder": _name(responder)})
    record("incident.responder_added", obj=incident, actor=acting_user, after={"responder": _name(responder)})
    signals.responder_added.send(sender=Incident, incident=incident, responder=responder)
    return incident


@audit.atomic
def do_add_note(incident, text, *, acting_user):
    text = (text or "").strip()
    if not text:
        raise ValidationError("A note needs some text.")
    if len(text) > NOTE_MAX_CHARS:
        raise ValidationError(f"A note may have at most {NOTE_MAX_CHARS:,} characters (this one has {len(text):,}).")
    event = add_event(incident, Kind.NOTE, actor=acting_user, message=text)
    record("incident.note_added", obj=incident, actor=acting_user, after={"note": text[:1000]})
    return event


@audit.atomic
def do_update_details(incident, *, acting_user, title, summary, impact, services):
    _lock(incident)
    title = (title or "").strip()
    if not title:
        raise ValidationError("An incident needs a title.")
    before = {"title": incident.title, "summary": incident.summary, "impact": incident.impact,
              "services": sorted(incident.services.values_list("slug", flat=True))}
    incident.title, incident.summary, incident.impact = title[:300], summary, impact
    incident.updated_at = timezone.now()
    incident.save(update_fields=["title", "summary", "impact", "updated_at"])
    incident.services.set(services)
    after = {"title": incident.title, "summary": summary, "impact": impact,
             "services": sorted(s.slug for s in services)}
    record("incident.details_changed", obj=incident, actor=acting_user, before=before, after=after)
    return incident
