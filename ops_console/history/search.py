"""Incident history: the filtered queryset behind the page and the exports, and
full-text search (PostgreSQL's text search over what the database keeps for it,
see audit's migration 0006)."""
import re

from django.db.models import Count
from django.db.models.expressions import RawSQL

from ops_console.incidents.models import OPEN_STATUSES, Incident, IncidentRun

SEARCH_CONFIG = "english"
# Text whose web-search query is only words joined by AND/OR (no phrase, no
# negation): an incident matches it only if its search document holds every
# word of some alternative, so that document may filter the candidates.
# (A "quoted phrase", a hyphenated word or a -word is still searched exactly,
# without that filter.)
PLAIN_WORDS = re.compile(r"[A-Za-z0-9]+(?:\s+[A-Za-z0-9]+)*")
# Ids of incidents whose stored vectors match: the columns and the table are
# kept by the database (migration 0006) and declared by no model, hence SQL.
QUERY = "websearch_to_tsquery(%s::regconfig, %s)"
IN_OWN_TEXT = f"SELECT incident_id FROM audit_incidentsearch WHERE vector @@ {QUERY}"
IN_TIMELINE = f"SELECT incident_id FROM incidents_timelineevent WHERE search_vector @@ {QUERY}"
# Necessary, not sufficient (the words may sit in different events). NULL: too big to keep.
MAY_BE_IN_TIMELINE = (f"SELECT incident_id FROM audit_incidentsearch WHERE (document @@ {QUERY} "
                      "OR document IS NULL)")
KEYSET_OPERATORS = {"pk__lt": "<", "pk__gt": ">"}


def _incident_ids(sql, params, keyset=None):
    """RawSQL of `sql` (ids of incidents), with a page's keyset filters on pk
    repeated on its incident_id: PostgreSQL does not carry a range across a
    join, so a walk of these rows would otherwise start at the newest."""
    params = list(params)
    for name, value in (keyset or {}).items():
        sql += f" AND incident_id {KEYSET_OPERATORS[name]} %s"
        params.append(value)
    return RawSQL(sql, params)


def search(queryset, text):
    """Incidents whose title, summary or any timeline message match `text` (every
    one of them, in one query: the exports)."""
    text = text.strip()
    if not text:
        return queryset
    # One IN over a UNION ALL lets each side use its GIN index (an OR of two
    # IN subqueries would not); IN de-duplicates anyway.
    matching = _incident_ids(f"{IN_OWN_TEXT} UNION ALL {IN_TIMELINE}", [SEARCH_CONFIG, text] * 2)
    return queryset.filter(pk__in=matching)


def search_sources(queryset, text):
    """The incidents search(queryset, text) finds, as parts whose union they are,
    for paging.keyset_page: each part is cut to a page on its own, so PostgreSQL
    can walk the newest incidents and stop after a page when the words are common,
    or use a GIN index when they are rare, instead of collecting every match (a
    tenth of a million rows) to sort it. A part is a queryset, or a function of the
    page's keyset filters on pk that returns one."""
    text = text.strip()
    if not text:
        return [queryset]
    params = [SEARCH_CONFIG, text]
    plain_words = PLAIN_WORDS.fullmatch(text) is not None

    def in_own_text(keyset):
        return queryset.filter(**keyset).filter(pk__in=_incident_ids(IN_OWN_TEXT, params, keyset))

    def in_timeline(keyset):
        found = queryset.filter(**keyset).filter(pk__in=_incident_ids(IN_TIMELINE, params, keyset))
        if plain_words:
            # Rules out, through one index on the incidents, those no event can match.
            found = found.filter(pk__in=_incident_ids(MAY_BE_IN_TIMELINE, params, keyset))
        return found

    return [in_own_text, in_timeline]


def _filtered(form, queryset):
    """(incidents `form` selects before the text search, the search text)."""
    queryset = Incident.objects.all() if queryset is None else queryset
    if not form.is_bound:
        return queryset, ""
    if not form.is_valid():
        return queryset.none(), ""
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
    return queryset, data["q"] or ""


def filter_incidents(form, queryset=None):
    """The incidents `form` (a bound IncidentFilterForm) selects; none if it is invalid."""
    return search(*_filtered(form, queryset))


def filter_incident_sources(form, queryset=None):
    """filter_incidents() as search_sources() gives it: for a page of them."""
    return search_sources(*_filtered(form, queryset))


def with_listing_relations(queryset):
    """The columns a history row shows (the severity and commander joined in)."""
    return queryset.select_related("severity", "commander").only(*LISTING_FIELDS)


def attach_services_and_runs(incidents):
    """Set .service_slugs and .run_count on a page of incidents: two queries
    whatever the page size (plain lists, cheaper to render than related managers)."""
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
