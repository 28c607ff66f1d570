"""The audit log's pages: the log, an entry."""
import datetime as dt

import pytest
from django.urls import reverse

from ops_console.audit.log import record


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
    assert response.status_code == 302 and response["Location"] == reverse("history:incidents")
    assert client.get(reverse("audit:entry", args=[entry.pk])).status_code == 403
    assert client.get(reverse("audit:export_csv")).status_code == 403


def test_audit_tab_refuses_a_user_without_a_role(client, make_user):
    client.force_login(make_user(None))
    assert client.get(reverse("audit:index")).status_code == 403


def test_entry_page_shows_nested_values_as_json(client_as, db):
    entry = record("thing.changed", before={"labels": ["a"]}, after={"labels": ["a", "b"], "note": "<b>x</b>"})
    body = client_as("auditor").get(reverse("audit:entry", args=[entry.pk])).content.decode()
    assert "&quot;a&quot;,\n  &quot;b&quot;" in body
    assert "&lt;b&gt;x&lt;/b&gt;" in body and "<b>x</b>" not in body
