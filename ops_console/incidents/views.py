"""The commander's board, the incident page and the changes made from it.
Views parse the request, check permission, call actions, render."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from ops_console.ui.access import require
from ops_console.monitoring.models import Service

from . import actions
from .forms import CommanderForm, DetailsForm, NoteForm, OpenIncidentForm, ResponderForm, SeverityForm, StatusForm
from .models import OPEN_STATUSES, Incident, Severity, Status
from .permissions import status_changes_for

BOARD_PAGE_SIZE = 50
STATUS_FILTERS = {"open": OPEN_STATUSES, "all": None, **{s: (s,) for s in Status.values}}


def board_queryset(params):
    incidents = Incident.objects.select_related("severity", "commander").prefetch_related("services")
    statuses = STATUS_FILTERS.get(params.get("status") or "open", OPEN_STATUSES)
    if statuses:
        incidents = incidents.filter(status__in=statuses)
    if params.get("severity"):
        incidents = incidents.filter(severity__code=params["severity"])
    if params.get("service"):
        incidents = incidents.filter(services__slug=params["service"])
    if params.get("q"):
        q = params["q"].strip()
        match = Q(title__icontains=q)
        ref = Incident.objects.by_reference(q).values("pk")
        incidents = incidents.filter(match | Q(pk__in=ref))
    return incidents.order_by("severity__rank", "-detected_at")


@require("incidents.view_incident")
def index(request):
    page = Paginator(board_queryset(request.GET), BOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    services = list(Service.objects.all())
    # Who was paged and the maintenance windows come from the escalation app's
    # template tags (templates/incidents/partials/board.html): escalation sits above us.
    context = {
        "page": page, "incidents": list(page.object_list),
        "severities": Severity.objects.all(), "services": services,
        "status_filters": ["open", "all", *Status.values], "filters": request.GET,
        "query": request.GET.urlencode(),
    }
    template = "incidents/partials/board.html" if request.htmx else "incidents/index.html"
    return render(request, template, context)


def get_incident(reference):
    incident = Incident.objects.by_reference(reference).select_related(
        "severity", "commander", "runbook", "opened_by").first()
    if incident is None:
        raise Http404(f"No incident {reference}")
    return incident


def runbook_links(incident):
    """The linked runbook's page and its start form with ?incident=INC-42."""
    if incident.runbook is None:
        return {}
    page = reverse("runbooks:detail", args=[incident.runbook.slug])
    start = reverse("runbooks:start", args=[incident.runbook.slug])
    return {"runbook_url": page, "start_run_url": f"{start}?{urlencode({'incident': incident.reference})}"}


def detail_context(incident):
    """Everything the incident page shows; querysets stay lazy, so the polled
    live part only runs the queries its template uses."""
    return {
        **runbook_links(incident),
        "incident": incident,
        "timeline": incident.timeline.all(),
        "alerts": incident.alerts.all()[:100],
        "runs": incident.run_links.select_related("run__runbook", "run__version", "run__started_by"),
        "pages": incident.pages.select_related("user").order_by("created_at"),
        "services": incident.services.all(),
        "responders": incident.responders.all(),
        "transitions": incident.allowed_transitions(),
        "severity_form": SeverityForm(initial={"severity": incident.severity}),
        "commander_form": CommanderForm(initial={"commander": incident.commander}),
        "responder_form": ResponderForm(),
        "note_form": NoteForm(),
        "details_form": DetailsForm(initial={"title": incident.title, "summary": incident.summary,
                                             "impact": incident.impact, "services": list(incident.services.all())}),
    }


@require("incidents.view_incident")
def detail(request, reference):
    incident = get_incident(reference)
    # The postmortem is the history app's; its reverse relation names it without an import.
    postmortem = Incident.objects.filter(pk=incident.pk).values_list("postmortem__latest__number", flat=True).first()
    return render(request, "incidents/detail.html",
                  {**detail_context(incident), "postmortem_version": postmortem,
                   "my_transitions": status_changes_for(request.user, incident)})


@require("incidents.view_incident")
def timeline(request, reference):
    """The live part of the incident page (status, countdown, timeline), polled by htmx."""
    incident = get_incident(reference)
    content = render_to_string("incidents/partials/live.html", {
        **detail_context(incident), "my_transitions": status_changes_for(request.user, incident)}, request)
    # A closed incident changes no more: htmx stops polling on this response's status (286).
    return HttpResponseStopPolling(content) if incident.status == Status.CLOSED else HttpResponse(content)


@require("incidents.manage_incident")
def new(request):
    form = OpenIncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = actions.do_open_incident(
                title=data["title"], severity=data["severity"], services=data["services"], summary=data["summary"],
                impact=data["impact"], commander=data["commander"], acting_user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Opened {incident.reference}.")
            return redirect(incident)
    return render(request, "incidents/new.html", {"form": form})


def _apply(request, incident, change):
    """Run one action; report a refusal as a message; back to the incident page."""
    try:
        change()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(reverse("incidents:detail", args=[incident.reference]))


def _change(request, reference, form_class, perform):
    """Validate the posted form, then perform(incident, cleaned_data)."""
    incident = get_incident(reference)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(
            " ".join(errors) if name == "__all__" else f"{name}: {' '.join(errors)}"
            for name, errors in form.errors.items()))
        return redirect(reverse("incidents:detail", args=[incident.reference]))
    return _apply(request, incident, lambda: perform(incident, form.cleaned_data))


@require_POST
@require("incidents.acknowledge_incident")
def acknowledge(request, reference):
    incident = get_incident(reference)
    return _apply(request, incident, lambda: actions.do_acknowledge(incident, acting_user=request.user, via="web"))


def _status_change(request, incident, status):
    # Checked against the incident as it is now: a responder on it may mitigate or resolve it
    # (commanders and admins: the state machine itself answers, in its own words).
    manager = request.user.has_perm("incidents.manage_incident")
    if not manager and status not in status_changes_for(request.user, incident):
        raise ValidationError(f"You may not mark {incident.reference} {status}.")
    return actions.do_change_status(incident, status, acting_user=request.user)


@require_POST
@require("incidents.view_incident")
def change_status(request, reference):
    incident = get_incident(reference)
    if not request.user.has_perm("incidents.manage_incident") and not status_changes_for(request.user, incident):
        raise PermissionDenied
    return _change(request, reference, StatusForm,
                   lambda incident, data: _status_change(request, incident, data["status"]))


@require_POST
@require("incidents.manage_incident")
def add_responder(request, reference):
    return _change(request, reference, ResponderForm, lambda incident, data: actions.do_add_responder(
        incident, data["responder"], acting_user=request.user))


@require_POST
@require("incidents.manage_incident")
def change_severity(request, reference):
    return _change(request, reference, SeverityForm, lambda incident, data: actions.do_change_severity(
        incident, data["severity"], acting_user=request.user, reason=data["reason"]))


@require_POST
@require("incidents.manage_incident")
def set_commander(request, reference):
    return _change(request, reference, CommanderForm, lambda incident, data: actions.do_set_commander(
        incident, data["commander"], acting_user=request.user))


@require_POST
@require("incidents.manage_incident")
def update_details(request, reference):
    return _change(request, reference, DetailsForm, lambda incident, data: actions.do_update_details(
        incident, acting_user=request.user, title=data["title"], summary=data["summary"], impact=data["impact"],
        services=list(data["services"])))


@require_POST
@require("incidents.add_note")
def add_note(request, reference):
    return _change(request, reference, NoteForm, lambda incident, data: actions.do_add_note(
        incident, data["text"], acting_user=request.user))
