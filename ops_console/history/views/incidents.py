"""Incident history: find any incident, export what was found, export one
incident's whole record (its page is the incidents app's)."""
import itertools

from django.conf import settings
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ops_console.incidents.models import Incident, Severity
from ops_console.runbooks.models import StepAttempt, StepRun
from ops_console.ui.access import require
from ops_console.ui.exports import bad_filter, csv_response, json_response
from ops_console.ui.paging import keyset_page, query_without_cursor

from .. import exports, search
from ..forms import IncidentFilterForm

PAGE_SIZE = 50


def _form(request):
    codes = Severity.objects.values_list("code", flat=True)
    return IncidentFilterForm(request.GET or None, severities=list(codes))


@require_GET
@require("incidents.view_incident")
def incidents(request):
    form = _form(request)
    sources = search.filter_incident_sources(form, search.with_listing_relations(Incident.objects.all()))
    page = keyset_page(sources, request.GET, size=PAGE_SIZE, key="pk")
    search.attach_services_and_runs(page.items)
    return render(request, "history/incidents.html",
                  {"form": form, "page": page, "query": query_without_cursor(request.GET)})


def incident_or_404(reference):
    incident = Incident.objects.by_reference(reference).select_related("severity", "commander", "opened_by").first()
    if incident is None:
        raise Http404(f"No incident {reference}")
    return incident


@require_GET
@require("incidents.view_incident")
def export_incidents(request, fmt):
    form = _form(request)
    if form.is_bound and not form.is_valid():
        return bad_filter(form)
    queryset = search.filter_incidents(form).select_related("severity", "commander").prefetch_related("services")
    rows = (exports.incident_row(i, settings.BASE_URL) for i in queryset.order_by("pk").iterator(chunk_size=1000))
    name = f"incidents-{form.filename_part()}.{fmt}"
    if fmt == "csv":
        return csv_response(name, exports.INCIDENT_FIELDS, ([row[f] for f in exports.INCIDENT_FIELDS] for row in rows))
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
                yield exports.attempt_event_row(attempt, step_run, incident.reference)


@require_GET
@require("incidents.view_incident")
def export_incident(request, reference, fmt):
    """The incident's timeline; the CSV adds a step.attempt row per kept step attempt,
    the JSON lists its runs with each step's attempts."""
    incident = incident_or_404(reference)
    events = (exports.event_row(e, incident.reference) for e in incident.timeline.all().iterator(chunk_size=2000))
    name = f"{incident.reference}.{fmt}"
    if fmt == "csv":
        rows = itertools.chain(events, _attempt_rows(incident))
        return csv_response(name, exports.EVENT_FIELDS, ([row[f] for f in exports.EVENT_FIELDS] for row in rows))
    summary = exports.incident_row(Incident.objects.prefetch_related("services").select_related(
        "severity", "commander").get(pk=incident.pk), settings.BASE_URL)
    links = incident.run_links.select_related("run__runbook", "run__version", "run__started_by").prefetch_related(
        Prefetch("run__steps", queryset=_steps_with_attempts())).order_by("created_at")
    runs = [{**exports.run_row(link), "steps": [exports.step_data(s) for s in link.run.steps.all()]}
            for link in links]
    return json_response(name, events, wrapper={"incident": summary, "runs": runs}, items_key="timeline")
