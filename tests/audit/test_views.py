"""The auditor's pages: the audit log, an entry, incident history, an incident, a run."""
import datetime as dt

import pytest
from django.urls import reverse

from ops_console.audit.log import record
from ops_console.audit.models import AuditEntry

from . import builders


def test_audit_log_lists_entries_newest_first(client_as, entries):
    entries(3)
    response = client_as("auditor").get(reverse("audit:index"))
    assert response.status_code == 200
    ids = [e.id for e in response.context["page"].items]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 3
    body = client_as("auditor").get(reverse("audit:index"), {"action": "thing.changed"}).content.decode()
    assert 'href="/audit/export.csv?action=thing.changed"' in body


def test_audit_log_filters_by_action_actor_object_and_period(client_as, make_user):
    bob = make_user("commander", username="bob")
    record("incident.opened", actor=bob, object_type="incidents.incident", object_id="7", object_repr="INC-7")
    record("incident.acknowledged", object_type="incidents.incident", object_id="8", object_repr="INC-8")
    record("user.role_changed", actor=bob, object_type="auth.user", object_id="1", object_repr="x")
    client = client_as("auditor")

    def actions(**params):
        return {e.action for e in client.get(reverse("audit:index"), params).context["page"].items}

    assert actions(action="incident.") == {"incident.opened", "incident.acknowledged"}
    assert actions(action="incident.opened") == {"incident.opened"}
    assert actions(actor="bob") == {"incident.opened", "user.role_changed"}
    assert actions(object="incidents.incident:8") == {"incident.acknowledged"}
    today = dt.date.today()
    assert "incident.opened" in actions(since=today.isoformat(), until=today.isoformat())
    assert actions(until=(today - dt.timedelta(days=2)).isoformat()) == set()


def test_audit_log_explains_a_bad_filter(client_as):
    response = client_as("auditor").get(reverse("audit:index"), {"since": "2026-05-02", "until": "2026-05-01"})
    assert response.status_code == 200
    assert "must not be after" in response.content.decode()
    response = client_as("auditor").get(reverse("audit:index"), {"since": "yesterday"})
    assert "Enter a valid date" in response.content.decode()


def test_keyset_pages_walk_back_and_forth_without_gaps(client_as, entries, monkeypatch):
    made = entries(7)
    client = client_as("auditor")
    seen, params = [], {"action": "thing.changed"}
    monkeypatch.setattr("ops_console.audit.views.log.PAGE_SIZE", 3)
    while True:
        page = client.get(reverse("audit:index"), params).context["page"]
        seen += [e.id for e in page.items]
        if page.older is None:
            break
        params = {"action": "thing.changed", "before": page.older}
    assert seen == [e.pk for e in reversed(made)]
    back = client.get(reverse("audit:index"), {"action": "thing.changed", "after": page.newer}).context["page"]
    assert [e.id for e in back.items] == [e.pk for e in reversed(made)][3:6]  # the page before the last


def test_audit_log_page_costs_the_same_queries_however_deep(client_as, entries, django_assert_max_num_queries):
    made = entries(60)
    client = client_as("auditor")
    with django_assert_max_num_queries(6):
        client.get(reverse("audit:index"))
    with django_assert_max_num_queries(6):
        client.get(reverse("audit:index"), {"before": made[5].pk, "action": "thing.changed"})


def test_entry_page_shows_the_diff_and_the_chain(client_as, entries):
    first, second = entries(2)
    response = client_as("auditor").get(reverse("audit:entry", args=[second.pk]))
    body = response.content.decode()
    assert response.context["diff"] == [("n", 1, 2)]
    assert "matches its content" in body and f'href="/audit/entries/{first.pk}/"' in body


def test_entry_page_404_for_a_missing_entry(client_as, db):
    assert client_as("auditor").get(reverse("audit:entry", args=[999999])).status_code == 404


@pytest.mark.parametrize("role", ["responder", "commander"])
def test_audit_log_is_for_auditors_and_admins(client_as, role, entries):
    entry = entries(1)[0]
    client = client_as(role)
    response = client.get(reverse("audit:index"))
    assert response.status_code == 302 and response["Location"] == reverse("audit:incidents")
    assert client.get(reverse("audit:entry", args=[entry.pk])).status_code == 403
    assert client.get(reverse("audit:export_csv")).status_code == 403


def test_audit_tab_refuses_a_user_without_a_role(client, make_user):
    client.force_login(make_user(None))
    assert client.get(reverse("audit:index")).status_code == 403


# --- incident history --------------------------------------------------------

def test_history_filters_incidents(client_as, make_user):
    ann = make_user("commander", username="ann")
    db_svc, web_svc = builders.service("db"), builders.service("web")
    a = builders.incident("Database replica lag", "P1", commander=ann, services=[db_svc],
                          resolve_after=dt.timedelta(hours=1),
                          events=[("note", "Failover to the standby in eu-west", 10)])
    b = builders.incident("Checkout latency", "P2", services=[web_svc],
                          detected=builders.T0 + dt.timedelta(days=40))
    client = client_as("auditor")

    def refs(**params):
        return [i.reference for i in client.get(reverse("audit:incidents"), params).context["page"].items]

    assert refs() == [b.reference, a.reference]
    assert refs(severity="P1") == [a.reference]
    assert refs(service="web") == [b.reference]
    assert refs(status="open") == [b.reference]
    assert refs(status="resolved") == [a.reference]
    assert refs(commander="ann") == [a.reference]
    assert refs(since="2026-04-01") == [b.reference]
    assert refs(until="2026-03-02") == [a.reference]
    assert refs(q="replica") == [a.reference]
    assert refs(q="standby") == [a.reference]  # a timeline message
    assert refs(q="latency") == [b.reference]
    assert refs(q="nothing-like-this") == []


@pytest.mark.parametrize("params", [{}, {"q": "incident"}, {"q": '"incident one"'}])
def test_history_page_has_a_fixed_number_of_queries(client_as, django_assert_max_num_queries, params):
    client = client_as("auditor")
    svc = builders.service("api")
    builders.incident("incident one", services=[svc])
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("audit:incidents"), params)
    for n in range(30):
        inc = builders.incident(f"incident {n}", commander=builders.user(), services=[svc, builders.service()],
                                events=[("note", "incident one again", 1)])
        builders.run(incident=inc)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("audit:incidents"), params)
    assert len(response.context["page"].items) == 31


def test_incident_page_shows_timeline_runs_and_pages(client_as, make_user):
    responder = make_user("responder", username="rita")
    inc = builders.incident("Disk full", "P0", summary="The **data** disk filled up.", ack_after=dt.timedelta(minutes=3),
                            events=[("note", "Deleted <script>alert(1)</script> old logs", 5)])
    the_run = builders.run(incident=inc, started_by=responder)
    builders.page(inc, responder, acknowledged=True)
    response = client_as("auditor").get(reverse("audit:incident", args=[inc.reference]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Deleted  old logs" in body or "Deleted old logs" in body.replace("  ", " ")
    assert "<script>alert(1)" not in body
    assert f'href="/audit/runs/{the_run.pk}/"' in body and "rita" in body
    assert f"/audit/incidents/{inc.reference}/export.csv" in body


def test_incident_page_query_count_does_not_grow_with_the_timeline(client_as, django_assert_max_num_queries):
    client = client_as("auditor")
    small = builders.incident("small")
    with django_assert_max_num_queries(15) as few:
        client.get(reverse("audit:incident", args=[small.reference]))
    big = builders.incident("big", events=[("note", f"note {n}", n) for n in range(40)])
    for _ in range(3):
        builders.run(incident=big)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("audit:incident", args=[big.reference]))


def test_unknown_incident_is_404(client_as, db):
    client = client_as("auditor")
    assert client.get(reverse("audit:incident", args=["INC-999999"])).status_code == 404
    assert client.get(reverse("audit:incident", args=["nonsense"])).status_code == 404


def test_run_page_shows_version_parameters_commands_output_and_who_confirmed(client_as, make_user):
    carl, cora = make_user("responder", username="carl"), make_user("commander", username="cora")
    inc = builders.incident("Queue backlog")
    the_run = builders.run(incident=inc, parameters={"queue": "billing"},
                           steps=[("succeeded", carl, None), ("failed", carl, cora)])
    response = client_as("auditor").get(reverse("audit:run", args=[the_run.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert f"{the_run.runbook.slug} v1" in body and the_run.version.sha256[:10] in body
    assert "billing" in body and "echo step 2" in body and "output of step 2" in body
    assert "Confirmed by: <strong>carl</strong>" in body and "Approved by: <strong>cora</strong>" in body
    assert f'href="/audit/incidents/{inc.reference}/"' in body
    assert "systemctl restart app" in body  # the exact source that ran


def test_entry_page_shows_nested_values_as_json(client_as, db):
    entry = record("thing.changed", before={"labels": ["a"]}, after={"labels": ["a", "b"], "note": "<b>x</b>"})
    body = client_as("auditor").get(reverse("audit:entry", args=[entry.pk])).content.decode()
    assert "&quot;a&quot;,\n  &quot;b&quot;" in body
    assert "&lt;b&gt;x&lt;/b&gt;" in body and "<b>x</b>" not in body
