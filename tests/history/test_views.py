"""The history's pages: the incident history list, the pages it left behind
under /audit/ (permanent redirects), and who may open each of its URLs."""
import datetime as dt

import pytest
from django.urls import reverse

from ops_console.history.postmortems import do_save_postmortem

from . import builders

ROLES = ["responder", "commander", "auditor", "admin"]


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
        return [i.reference for i in client.get(reverse("history:incidents"), params).context["page"].items]

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
        client.get(reverse("history:incidents"), params)
    for n in range(30):
        inc = builders.incident(f"incident {n}", commander=builders.user(), services=[svc, builders.service()],
                                events=[("note", "incident one again", 1)])
        builders.run(incident=inc)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("history:incidents"), params)
    assert len(response.context["page"].items) == 31


def test_history_rows_link_to_the_one_incident_page(client_as):
    inc = builders.incident("Disk full")
    body = client_as("auditor").get(reverse("history:incidents")).content.decode()
    assert f'href="/incidents/{inc.reference}/"' in body
    assert 'href="/history/export.csv"' in body and "/audit/incidents/" not in body


# --- the addresses under /audit/ that moved --------------------------------------

def moved(make_user):
    """(old path, where it leads now) for every page the history had under /audit/."""
    inc = builders.incident("Moved", "P2")
    run = builders.run(incident=inc)
    do_save_postmortem(inc, "# Postmortem", acting_user=make_user("commander"))
    ref = inc.reference
    return [
        ("/audit/incidents/", "/history/"),
        ("/audit/incidents/?severity=P2&q=moved", "/history/?severity=P2&q=moved"),
        ("/audit/incidents/export.csv?severity=P2", "/history/export.csv?severity=P2"),
        ("/audit/incidents/export.json", "/history/export.json"),
        (f"/audit/incidents/{ref}/", f"/incidents/{ref}/"),
        (f"/audit/incidents/{ref}/export.csv", f"/incidents/{ref}/export.csv"),
        (f"/audit/incidents/{ref}/export.json", f"/incidents/{ref}/export.json"),
        (f"/audit/incidents/{ref}/postmortem/", f"/incidents/{ref}/postmortem/"),
        (f"/audit/incidents/{ref}/postmortem/edit", f"/incidents/{ref}/postmortem/edit"),
        (f"/audit/incidents/{ref}/postmortem/v1/", f"/incidents/{ref}/postmortem/v1/"),
        (f"/audit/incidents/{ref}/postmortem.md?version=1", f"/incidents/{ref}/postmortem.md?version=1"),
        (f"/audit/runs/{run.pk}/", f"/runs/{run.pk}/"),
        ("/audit/reports/?since=2026-03-01", "/reports/?since=2026-03-01"),
    ]


def test_the_old_audit_urls_redirect_permanently(client_as, make_user):
    client = client_as("admin")  # who may open every page they lead to, the editor too
    for old, new in moved(make_user):
        response = client.get(old)
        assert (response.status_code, response["Location"]) == (301, new), old
        assert client.get(new).status_code == 200, new


def test_an_old_url_for_no_incident_is_404(client_as, db):
    client = client_as("auditor")
    assert client.get("/audit/incidents/nonsense/").status_code == 404
    assert client.get("/audit/incidents/INC-999999/", follow=True).status_code == 404


def test_the_old_urls_still_need_a_sign_in(client, db):
    response = client.get("/audit/incidents/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


# --- who may open each URL --------------------------------------------------------

# (url name, arguments, roles that may open it); everyone else with a role may not.
def history_urls(inc):
    ref = inc.reference
    everyone = set(ROLES)
    return [
        ("history:incidents", [], everyone),
        ("history:incidents_csv", [], everyone),
        ("history:incidents_json", [], everyone),
        ("history:incident_csv", [ref], everyone),
        ("history:incident_json", [ref], everyone),
        ("history:postmortem", [ref], everyone),
        ("history:postmortem_version", [ref, 1], everyone),
        ("history:postmortem_md", [ref], everyone),
        ("history:postmortem_edit", [ref], {"commander", "admin"}),
        ("history:reports", [], everyone),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_each_history_url_per_role(client_as, make_user, role):
    inc = builders.incident("Per role")
    do_save_postmortem(inc, "# Postmortem", acting_user=make_user("commander"))
    client = client_as(role)
    for name, args, allowed in history_urls(inc):
        response = client.get(reverse(name, args=args))
        assert response.status_code == (200 if role in allowed else 403), (name, role)


def test_a_user_without_a_role_may_open_no_history_url(client, make_user):
    inc = builders.incident("No role")
    client.force_login(make_user(None))
    for name, args, _ in history_urls(inc):
        assert client.get(reverse(name, args=args)).status_code == 403, name
