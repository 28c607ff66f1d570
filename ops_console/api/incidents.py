"""/api/v1/incidents: the board's and the history's list, the incident page, and
the changes made from it, through the same do_* actions (so the same audit entries)."""
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from ninja import Field, Query, Router, Schema
from ninja import Status as Answer

from ops_console.history import search
from ops_console.history.forms import IncidentFilterForm
from ops_console.incidents import actions
from ops_console.incidents.forms import NOTE_MAX_CHARS, commander_choices  # the page's limit for a note
from ops_console.incidents.models import Incident, Severity, Status
from ops_console.incidents.permissions import status_changes_for
from ops_console.monitoring.models import Service

from .auth import Needs
from .errors import ApiError
from .paging import DEFAULT_LIMIT, page_of

router = Router(tags=["incidents"])


class IncidentOut(Schema):
    reference: str
    title: str
    status: str
    severity: str
    services: list[str]
    commander: str | None
    source: str
    dedup_key: str
    summary: str
    impact: str
    detected_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    url: str


class IncidentPage(Schema):
    items: list[IncidentOut]
    next: int | None = Field(None, description="Pass as ?cursor= for the next (older) page; null on the last")


class EventOut(Schema):
    id: int
    kind: str
    created_at: datetime
    actor: str
    message: str
    data: dict


class EventPage(Schema):
    items: list[EventOut]
    next: int | None


class IncidentFilters(Schema):
    status: str | None = Field(None, description="open, triggered, acknowledged, mitigated, resolved or closed")
    severity: str | None = Field(None, description="a severity code, e.g. P1")
    service: str | None = Field(None, description="a service slug")
    commander: str | None = Field(None, description="a user name")
    q: str | None = Field(None, description="words in the title, summary or timeline")
    since: date | None = Field(None, description="detected on or after this day (UTC)")
    until: date | None = Field(None, description="detected on or before this day (UTC)")
    cursor: int | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=200)


class OpenIn(Schema):
    title: str = Field(..., min_length=1, max_length=300)
    severity: str = Field(..., description="a severity code, e.g. P2")
    services: list[str] = Field(default_factory=list, description="service slugs")
    summary: str = ""
    impact: str = ""
    commander: str | None = Field(None, description="user name of a commander or admin")


class StatusIn(Schema):
    status: Status


class SeverityIn(Schema):
    severity: str
    reason: str = Field("", max_length=500)


class NoteIn(Schema):
    text: str = Field(..., min_length=1, max_length=NOTE_MAX_CHARS)


def incident_out(incident, request=None):
    return {
        "reference": incident.reference, "title": incident.title, "status": incident.status,
        "severity": incident.severity.code, "services": sorted(s.slug for s in incident.services.all()),
        "commander": incident.commander.get_username() if incident.commander_id else None,
        "source": incident.source, "dedup_key": incident.dedup_key, "summary": incident.summary,
        "impact": incident.impact, "detected_at": incident.detected_at, "acknowledged_at": incident.acknowledged_at,
        "resolved_at": incident.resolved_at, "url": reverse("incidents:detail", args=[incident.reference]),
    }


def get_incident(reference):
    incident = Incident.objects.by_reference(reference).select_related("severity", "commander").first()
    if incident is None:
        raise Http404(f"No incident {reference}.")
    return incident


def _severity(code):
    severity = Severity.objects.filter(code=code).first()
    if severity is None:
        choices = list(Severity.objects.values_list("code", flat=True))
        raise ApiError(400, f"Unknown severity {code!r}.", {"field": "severity", "choices": choices})
    return severity


@router.get("/incidents", response=IncidentPage, summary="List incidents (the history's filters)",
            auth=Needs("incidents.view_incident"))
def list_incidents(request, filters: Query[IncidentFilters]):
    data = {k: v for k, v in filters.dict().items() if k not in ("cursor", "limit") and v not in (None, "")}
    form = IncidentFilterForm(data or None, severities=list(Severity.objects.values_list("code", flat=True)))
    if form.is_bound and not form.is_valid():
        raise ApiError(400, "The filters are not valid.", {name: list(errs) for name, errs in form.errors.items()})
    sources = search.filter_incident_sources(form, Incident.objects.select_related("severity", "commander")
                                             .prefetch_related("services"))
    items, next_cursor = page_of(sources, filters.cursor, filters.limit, key="pk")
    return {"items": [incident_out(i) for i in items], "next": next_cursor}


@router.post("/incidents", response={201: IncidentOut}, summary="Open an incident",
             auth=Needs("incidents.manage_incident", write=True))
def open_incident(request, payload: OpenIn):
    services = list(Service.objects.filter(slug__in=payload.services))
    unknown = sorted(set(payload.services) - {s.slug for s in services})
    if unknown:
        raise ApiError(400, "Unknown services.", {"field": "services", "unknown": unknown})
    commander = None
    if payload.commander:
        commander = commander_choices().filter(username=payload.commander).first()
        if commander is None:
            raise ApiError(400, f"{payload.commander!r} is not a commander or admin.", {"field": "commander"})
    try:
        incident = actions.do_open_incident(
            title=payload.title, severity=_severity(payload.severity), services=services, summary=payload.summary,
            impact=payload.impact, commander=commander, acting_user=request.user)
    except ValidationError as exc:
        raise ApiError(400, " ".join(exc.messages)) from None
    return Answer(201, incident_out(get_incident(incident.reference)))


@router.get("/incidents/{reference}", response=IncidentOut, summary="Read an incident",
            auth=Needs("incidents.view_incident"))
def read_incident(request, reference: str):
    return incident_out(get_incident(reference))


@router.post("/incidents/{reference}/acknowledge", response=IncidentOut, summary="Acknowledge",
             auth=Needs("incidents.acknowledge_incident", write=True))
def acknowledge(request, reference: str):
    incident = get_incident(reference)
    actions.do_acknowledge(incident, acting_user=request.user, via="api")
    return incident_out(get_incident(reference))


@router.post("/incidents/{reference}/status", response=IncidentOut, summary="Change the status",
             description="Commanders and admins: any change the state machine allows (409 otherwise). "
                         "A responder on the incident: mitigated or resolved. Anyone else: 403.",
             auth=Needs("incidents.view_incident", write=True))
def change_status(request, reference: str, payload: StatusIn):
    incident = get_incident(reference)
    # The incident page's rule (status_changes_for), checked against the incident as it is now;
    # managers get the state machine's own answer (409) for a change it refuses.
    if not request.user.has_perm("incidents.manage_incident") and \
            payload.status not in status_changes_for(request.user, incident):
        raise ApiError(403, f"You may not mark {incident.reference} {payload.status}.",
                       {"allowed": status_changes_for(request.user, incident)})
    actions.do_change_status(incident, payload.status, acting_user=request.user, via="api")
    return incident_out(get_incident(reference))


@router.post("/incidents/{reference}/severity", response=IncidentOut, summary="Change the severity",
             auth=Needs("incidents.manage_incident", write=True))
def change_severity(request, reference: str, payload: SeverityIn):
    incident = get_incident(reference)
    actions.do_change_severity(incident, _severity(payload.severity), acting_user=request.user,
                               reason=payload.reason)
    return incident_out(get_incident(reference))


def event_out(event):
    return {"id": event.pk, "kind": event.kind, "created_at": event.created_at, "actor": event.actor_name,
            "message": event.message, "data": event.data or {}}


@router.post("/incidents/{reference}/notes", response={201: EventOut}, summary="Add a note",
             auth=Needs("incidents.add_note", write=True))
def add_note(request, reference: str, payload: NoteIn):
    incident = get_incident(reference)
    try:
        event = actions.do_add_note(incident, payload.text, acting_user=request.user)
    except ValidationError as exc:
        raise ApiError(400, " ".join(exc.messages), {"field": "text"}) from None
    return Answer(201, event_out(event))


@router.get("/incidents/{reference}/timeline", response=EventPage, summary="The timeline, newest first",
            auth=Needs("incidents.view_incident"))
def timeline(request, reference: str, cursor: int | None = None, limit: int = Query(DEFAULT_LIMIT, ge=1, le=200)):
    incident = get_incident(reference)
    items, next_cursor = page_of(incident.timeline.all(), cursor, limit)
    return {"items": [event_out(e) for e in items], "next": next_cursor}
