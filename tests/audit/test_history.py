"""The history queries: full-text search on PostgreSQL and the substring fallback SQLite uses."""
from types import SimpleNamespace

from ops_console.audit import history
from ops_console.incidents.models import Incident

from . import builders


def refs(queryset):
    return sorted(i.reference for i in queryset)


def test_postgresql_search_matches_words_in_any_form(db):
    a = builders.incident("Replicas lagging", summary="", events=[("note", "Restarted the consumers", 3)])
    b = builders.incident("Disk full", summary="Not the replica")
    assert refs(history.search(Incident.objects.all(), "replica lag")) == [a.reference]  # stemmed
    assert refs(history.search(Incident.objects.all(), "consumer")) == [a.reference]
    assert refs(history.search(Incident.objects.all(), '"disk full"')) == [b.reference]
    assert refs(history.search(Incident.objects.all(), "replica -disk")) == [a.reference]  # web search syntax


def test_substring_fallback_without_postgresql(db, monkeypatch):
    a = builders.incident("Replica lag", events=[("note", "Restarted the consumers", 3)])
    b = builders.incident("Disk full", summary="The replica host filled its disk")
    monkeypatch.setattr(history, "connection", SimpleNamespace(vendor="sqlite"))
    assert refs(history.search(Incident.objects.all(), "replica")) == sorted([a.reference, b.reference])
    assert refs(history.search(Incident.objects.all(), "consumers")) == [a.reference]
    assert refs(history.search(Incident.objects.all(), "  ")) == sorted([a.reference, b.reference])


def test_attach_services_and_runs(db):
    inc = builders.incident("with things", services=[builders.service("b-svc"), builders.service("a-svc")])
    builders.run(incident=inc)
    builders.run(incident=inc)
    bare = builders.incident("bare")
    history.attach_services_and_runs([inc, bare])
    assert (inc.service_slugs, inc.run_count) == (["a-svc", "b-svc"], 2)
    assert (bare.service_slugs, bare.run_count) == ([], 0)
