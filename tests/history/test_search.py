"""The history queries: full-text search on PostgreSQL (over the columns the
database keeps, audit's migration 0006) and its paged form."""
import pytest
from django.db import connection
from django.http import QueryDict

from ops_console.history import search
from ops_console.incidents.actions import do_update_details
from ops_console.incidents.models import Incident, TimelineEvent
from ops_console.ui.paging import keyset_page

from . import builders


def refs(queryset):
    return sorted(i.reference for i in queryset)


def test_postgresql_search_matches_words_in_any_form(db):
    a = builders.incident("Replicas lagging", summary="", events=[("note", "Restarted the consumers", 3)])
    b = builders.incident("Disk full", summary="Not the replica")
    assert refs(search.search(Incident.objects.all(), "replica lag")) == [a.reference]  # stemmed
    assert refs(search.search(Incident.objects.all(), "consumer")) == [a.reference]
    assert refs(search.search(Incident.objects.all(), '"disk full"')) == [b.reference]
    assert refs(search.search(Incident.objects.all(), "replica -disk")) == [a.reference]  # web search syntax
    assert refs(search.search(Incident.objects.all(), "  ")) == sorted([a.reference, b.reference])  # no text: all


def test_attach_services_and_runs(db):
    inc = builders.incident("with things", services=[builders.service("b-svc"), builders.service("a-svc")])
    builders.run(incident=inc)
    builders.run(incident=inc)
    bare = builders.incident("bare")
    search.attach_services_and_runs([inc, bare])
    assert (inc.service_slugs, inc.run_count) == (["a-svc", "b-svc"], 2)
    assert (bare.service_slugs, bare.run_count) == ([], 0)


def document(incident):
    """The lexemes of an incident's search document (None: too big to keep)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tsvector_to_array(document) FROM audit_incidentsearch WHERE incident_id = %s",
                       [incident.pk])
        return cursor.fetchone()[0]


def page_refs(text, params="", size=2):
    sources = search.search_sources(search.with_listing_relations(Incident.objects.all()), text)
    page = keyset_page(sources, QueryDict(params), size=size, key="pk")
    return [i.reference for i in page.items], page


def test_a_timeline_message_added_later_is_found(db):
    inc = builders.incident("Checkout latency", summary="p99 above 2 s")
    assert "kerbero" not in document(inc)
    assert refs(search.search(Incident.objects.all(), "kerberos")) == []
    TimelineEvent.objects.create(incident=inc, kind="note", message="The Kerberos ticket had expired")
    assert {"kerbero", "ticket", "expir", "checkout", "latenc"} <= set(document(inc))
    assert refs(search.search(Incident.objects.all(), "kerberos ticket")) == [inc.reference]
    assert page_refs("kerberos ticket")[0] == [inc.reference]


def test_events_added_in_bulk_reach_their_incidents_documents(db):
    a, b = builders.incident("first"), builders.incident("second")
    TimelineEvent.objects.bulk_create([TimelineEvent(incident=a, kind="note", message="zookeeper quorum lost"),
                                       TimelineEvent(incident=b, kind="note", message="etcd leader changed"),
                                       TimelineEvent(incident=a, kind="note", message="zookeeper back")])
    assert {"zookeep", "quorum"} <= set(document(a)) and "etcd" not in document(a)
    assert "etcd" in document(b)
    assert page_refs("zookeeper")[0] == [a.reference]


def test_an_edited_title_is_searched_and_the_timeline_kept(db, make_user):
    inc = builders.incident("Database replica lag", events=[("note", "Failover to the standby", 5)])
    do_update_details(inc, acting_user=make_user("commander"), title="Storage array degraded", summary="",
                      impact="", services=[])
    assert refs(search.search(Incident.objects.all(), "storage")) == [inc.reference]
    assert refs(search.search(Incident.objects.all(), "replica")) == []
    assert page_refs("storage degraded")[0] == [inc.reference]
    assert page_refs("standby")[0] == [inc.reference]
    assert {"storag", "standbi"} <= set(document(inc)) and "replica" not in document(inc)


def test_all_words_must_match_in_one_text_as_before(db):
    # The document holds both words, but no single text does: not a match.
    split = builders.incident("Primary down", events=[("note", "replica rebuilt", 1), ("note", "lag alarm cleared", 2)])
    together = builders.incident("Primary down", events=[("note", "replica lag alarm", 1)])
    assert {"replica", "lag"} <= set(document(split))
    assert refs(search.search(Incident.objects.all(), "replica lag")) == [together.reference]
    assert page_refs("replica lag")[0] == [together.reference]
    assert page_refs("replica or lag")[0] == [together.reference, split.reference]


@pytest.mark.parametrize("text", ["replica", "replica lag", '"replica lag"', "replica -disk", "replica or disk",
                                  "replica-lag", "the"])
def test_pages_of_the_search_are_the_search_in_order(db, text):
    words = ["replica lag", "disk full", "replica-lag", "replica disk", "lag", "replica"]
    for n, title in enumerate(words * 2):  # the words in a summary, a timeline message or a title
        where = {"summary": title} if n % 3 == 0 else {"events": [("note", title, 1)]} if n % 3 == 1 else {}
        builders.incident(title if n % 3 == 2 else f"incident {n}", **where)
    expected = [i.reference for i in search.search(Incident.objects.all(), text).order_by("-pk")]
    pages, params = [], ""
    while True:  # every page, oldest-ward, through the ?before= links
        refs_, page = page_refs(text, params)
        pages.append(refs_)
        if page.older is None:
            break
        params = f"before={page.older}"
    assert sum(pages, []) == expected
    if len(pages) > 1:  # and back, newest-ward, through the ?after= link
        assert page_refs(text, f"after={page.newer}")[0] == pages[-2]


def test_deleted_incidents_leave_no_search_rows(db):
    kept, gone = builders.incident("kept"), builders.incident("gone", events=[("note", "kerberos", 1)])
    Incident.objects.filter(pk=gone.pk).delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT incident_id FROM audit_incidentsearch")
        assert [row[0] for row in cursor.fetchall()] == [kept.pk]


def test_an_oversized_document_is_dropped_and_the_incident_still_found(db):
    inc = builders.incident("Alert storm")
    for batch in range(4):  # about 1.3 MB of distinct lexemes: past what a tsvector holds
        words = " ".join(f"w{batch}{n:06d}" for n in range(40_000))
        TimelineEvent.objects.create(incident=inc, kind="alert_fired", message=words)
    assert document(inc) is None
    TimelineEvent.objects.create(incident=inc, kind="note", message="cause found: a kerberos loop")
    assert page_refs("kerberos loop")[0] == [inc.reference]
    assert page_refs("w0000042")[0] == [inc.reference]
    assert refs(search.search(Incident.objects.all(), "storm")) == [inc.reference]
