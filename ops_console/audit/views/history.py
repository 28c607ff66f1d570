"""Incident history for auditors: find any incident, open its whole record,
open each run as executed, export what was found."""
import itertools

from django.conf import settings
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from ops_console.ui.access import require
from ops_console.incidents.models import Incident, Severity
from ops_console.runbooks.models import Run, StepAttempt, StepRun

from .. import history
from ..exports import attempt_event_row, bad_filter, csv_response, json_response, step_data
from ..forms import IncidentFilterForm
from ..models import AuditEntry, Postmortem
from ..paging import keyset_page, query_without_cursor

PAGE_SIZE = 50
TIMELINE_LIMIT = 1000


def _form(request):
    codes = Severity.objects.values_list("code", flat=True)
    return IncidentFilterForm(request.GET or None, severities=list(codes))


@require_GET
@require("incidents.view_incident")
def incidents(request):
    form = _form(request)
    sources = history.filter_incident_sources(form, history.with_listing_relations(Incident.objects.all()))
    page = keyset_page(sources, request.GET, size=PAGE_SIZE, key="pk")
    history.attach_services_and_runs(page.items)
    return render(request, "audit/incidents.html",
                  {"form": form, "page": page, "query": query_without_cursor(request.GET)})


def incident_or_404(reference):
    incident = Incident.objects.by_reference(reference).select_related("severity", "commander", "opened_by").first()
    if incident is None:
        raise Http404(f"No incident {reference}")
    return incident


def _live_url(obj):
    """The owning app's page for obj, when it has one."""
    try:
        return obj.get_absolute_url()
    except (NoReverseMatch, AttributeError):
        return ""


@require_GET
@require("incidents.view_incident")
def incident(request, reference):
    incident = incident_or_404(reference)
    timeline = list(incident.timeline.all()[: TIMELINE_LIMIT + 1])
    links = list(incident.run_links.select_related("run__runbook", "run__version", "run__started_by")
                 .order_by("created_at"))
    pages = list(incident.pages.select_related("user").order_by("created_at"))
    postmortem = Postmortem.objects.filter(incident=incident).select_related("latest").first()
    return render(request, "audit/incident.html", {
        "incident": incident, "services": list(incident.services.all()), "timeline": timeline[:TIMELINE_LIMIT],
        "timeline_cut": len(timeline) > TIMELINE_LIMIT, "runs": links, "pages": pages, "postmortem": postmortem,
        "live_url": _live_url(incident),
    })


@require_GET
@require("incidents.view_incident")
def export_incidents(request, fmt):
    form = _form(request)
    if form.is_bound and not form.is_valid():
        return bad_filter(form)
    queryset = history.filter_incidents(form).select_related("severity", "commander").prefetch_related("services")
    rows = (history.incident_row(i, settings.BASE_URL) for i in queryset.order_by("pk").iterator(chunk_size=1000))
    name = f"incidents-{form.filename_part()}.{fmt}"
    if fmt == "csv":
        return csv_response(name, history.INCIDENT_FIELDS, ([row[f] for f in history.INCIDENT_FIELDS] for row in rows))
    return json_response(name, rows)


def _steps_with_attempts():
    attempts = StepAttempt.objects.select_related("confirmed_by").order_by("number")
    return StepRun.objects.order_by("index").prefetch_related(Prefetch("attempt_records", queryset=attempts))


def _attempt_rows(incident):
    """Every kept step attempt of the incident's runs, as rows of its CSV, run by run."""
    links = incident.run_links.order_by("created_at").prefetch_related(Prefetch("run__steps",
                                                                                queryset=_steps_with_attempts()))
    for link in links:
        for step_run in link.run.steps.all():
            for attempt in step_run.attempt_records.all():
                yield attempt_event_row(attempt, step_run, incident.reference)


@require_GET
@require("incidents.view_incident")
def export_incident(request, reference, fmt):
    """The incident's timeline; the CSV adds a step.attempt row per kept step attempt,
    the JSON lists its runs with each step's attempts."""
    incident = incident_or_404(reference)
    events = (history.event_row(e, incident.reference) for e in incident.timeline.all().iterator(chunk_size=2000))
    name = f"{incident.reference}.{fmt}"
    if fmt == "csv":
        rows = itertools.chain(events, _attempt_rows(incident))
        return csv_response(name, history.EVENT_FIELDS, ([row[f] for f in history.EVENT_FIELDS] for row in rows))
    summary = history.incident_row(Incident.objects.prefetch_related("services").select_related(
        "severity", "commander").get(pk=incident.pk), settings.BASE_URL)
    links = incident.run_links.select_related("run__runbook", "run__version", "run__started_by").prefetch_related(
        Prefetch("run__steps", queryset=_steps_with_attempts())).order_by("created_at")
    runs = [{**history.run_row(link), "steps": [step_data(s) for s in link.run.steps.all()]} for link in links]
    return json_response(name, events, wrapper={"incident": summary, "runs": runs}, items_key="timeline")


@require_GET
@require("runbooks.view_run")
def run(request, run_id):
    steps = _steps_with_attempts().select_related("confirmed_by", "approved_by")
    the_run = get_object_or_404(Run.objects.select_related("runbook", "version", "version__created_by", "started_by",
                                                           "incident_link__incident")
                                .prefetch_related(Prefetch("steps", queryset=steps)), pk=run_id)
    link = getattr(the_run, "incident_link", None)
    entries = AuditEntry.objects.filter(object_type="runbooks.run", object_id=str(the_run.pk)).order_by("id")[:200]
    return render(request, "audit/run.html", {
        "run": the_run, "steps": list(the_run.steps.all()), "incident_link": link, "entries": entries,
        "live_url": _live_url(the_run), "incident_url": reverse("audit:incident", args=[link.incident.reference])
        if link else "",
    })
