"""Incident history: the filtered queryset behind the page and the exports, and
full-text search (PostgreSQL's text search when available, substring match on
SQLite). The GIN indexes that make the search fast come from migration 0004."""
from django.db import connection
from django.db.models import Q

from ops_console.incidents.models import OPEN_STATUSES, Incident, TimelineEvent

SEARCH_CONFIG = "english"


def incident_vector():
    from django.contrib.postgres.search import SearchVector

    return SearchVector("title", "summary", config=SEARCH_CONFIG)


def timeline_vector():
    from django.contrib.postgres.search import SearchVector

    return SearchVector("message", config=SEARCH_CONFIG)


def search(queryset, text):
    """Incidents whose title, summary or any timeline message match `text`."""
    text = text.strip()
    if not text:
        return queryset
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery

        query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
        in_events = TimelineEvent.objects.annotate(v=timeline_vector()).filter(v=query).order_by()
        in_incident = Incident.objects.annotate(v=incident_vector()).filter(v=query).order_by()
        # One IN over a UNION lets each side use its GIN index; an OR of two
        # IN subqueries makes PostgreSQL compute every row's tsvector instead.
        # UNION ALL: IN de-duplicates anyway, so the union need not sort 100k ids first.
        return queryset.filter(pk__in=in_incident.values("pk").union(in_events.values("incident_id"), all=True))
    in_events = TimelineEvent.objects.filter(message__icontains=text).values("incident_id")
    return queryset.filter(Q(title__icontains=text) | Q(summary__icontains=text) | Q(pk__in=in_events))


def filter_incidents(form, queryset=None):
    """The incidents `form` (a bound IncidentFilterForm) selects; none if it is invalid."""
    queryset = Incident.objects.all() if queryset is None else queryset
    if not form.is_bound:
        return queryset
    if not form.is_valid():
        return queryset.none()
    data = form.cleaned_data
    queryset = queryset.filter(**form.period_filter("detected_at"))
    if data["severity"]:
        queryset = queryset.filter(severity__code=data["severity"])
    if data["service"]:
        queryset = queryset.filter(services__slug=data["service"].strip())
    if data["status"] == "open":
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    elif data["status"]:
        queryset = queryset.filter(status=data["status"])
    if data["commander"]:
        queryset = queryset.filter(commander__username=data["commander"].strip())
    return search(queryset, data["q"] or "")


def with_listing_relations(queryset):
    """The columns a history row shows (the severity and commander joined in)."""
    return queryset.select_related("severity", "commander").only(*LISTING_FIELDS)


def attach_services_and_runs(incidents):
    """Set .service_slugs and .run_count on a page of incidents: two queries
    whatever the page size (plain lists, cheaper to render than related managers)."""
    from django.db.models import Count

    from ops_console.incidents.models import IncidentRun

    ids = [incident.pk for incident in incidents]
    slugs, runs = {}, {}
    for incident_id, slug in (Incident.services.through.objects.filter(incident_id__in=ids)
                              .order_by("service__slug").values_list("incident_id", "service__slug")):
        slugs.setdefault(incident_id, []).append(slug)
    if ids:
        runs = dict(IncidentRun.objects.filter(incident_id__in=ids).values("incident_id")
                    .annotate(n=Count("id")).values_list("incident_id", "n"))
    for incident in incidents:
        incident.service_slugs = slugs.get(incident.pk, [])
        incident.run_count = runs.get(incident.pk, 0)
    return incidents


LISTING_FIELDS = ("pk", "title", "status", "detected_at", "acknowledged_at", "resolved_at", "severity__code",
                  "commander__username")


INCIDENT_FIELDS = ("reference", "title", "severity", "status", "services", "commander", "detected_at",
                   "acknowledged_at", "mitigated_at", "resolved_at", "closed_at", "seconds_to_acknowledge",
                   "seconds_to_resolve", "summary", "impact", "url")
EVENT_FIELDS = ("incident", "created_at", "kind", "actor", "message", "data")


def _seconds(start, end):
    return round((end - start).total_seconds(), 3) if start and end else None


def incident_row(incident, base_url=""):
    """One incident as a flat dict for the exports (services prefetched)."""
    return {
        "reference": incident.reference,
        "title": incident.title,
        "severity": incident.severity.code,
        "status": incident.status,
        "services": ",".join(sorted(s.slug for s in incident.services.all())),
        "commander": incident.commander.get_username() if incident.commander_id else "",
        "detected_at": incident.detected_at,
        "acknowledged_at": incident.acknowledged_at,
        "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
        "seconds_to_acknowledge": _seconds(incident.detected_at, incident.acknowledged_at),
        "seconds_to_resolve": _seconds(incident.detected_at, incident.resolved_at),
        "summary": incident.summary,
        "impact": incident.impact,
        "url": f"{base_url}/audit/incidents/{incident.reference}/",
    }


def event_row(event, reference):
    return {"incident": reference, "created_at": event.created_at, "kind": event.kind,
            "actor": event.actor_name, "message": event.message, "data": event.data}


def run_row(link):
    run = link.run
    return {"run": run.pk, "runbook": run.runbook.slug, "version": run.version.number,
            "version_sha256": run.version.sha256, "status": run.status, "parameters": run.parameters,
            "started_by": run.started_by.get_username() if run.started_by_id else "",
            "created_at": run.created_at, "finished_at": run.finished_at}
