"""The schedule pages: everyone who reads runbooks sees them, admins change
them, every POST needs its CSRF token, and a bad form keeps what was typed."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ops_console.audit.models import AuditEntry
from ops_console.runbooks import schedules
from ops_console.runbooks.document import Parameter
from ops_console.runbooks.models import Run, Schedule

from .builders import make_doc, make_version, step

ROLES = ["admin", "commander", "responder", "auditor", None]   # None: not signed in


def weekly(owner=None, **kw):
    runbook = make_version(make_doc(step("manual", "look at it"), slug="chaos-suite",
                                    parameters=[Parameter("users", type="int", default=20),
                                                Parameter("mode", type="choice", choices=["soft", "hard"],
                                                          default="soft"),
                                                Parameter("target", pattern="^[a-z]+$")])).runbook
    return schedules.do_create_schedule(name="Weekly chaos", runbook=runbook, cron="0 2 * * 1",
                                        time_zone="Europe/Berlin", parameters={"users": 30}, acting_user=owner, **kw)


def signed_in(client, make_user, role):
    if role:
        client.force_login(make_user(role))
    return client


def form(**changes):
    data = {"runbook": "chaos-suite", "name": "Nightly chaos", "cron": "0 3 * * *", "time_zone": "UTC",
            "on_missed": "skip", "enabled": "1", "param-users": "", "param-mode": "hard", "param-target": "api"}
    data.update(changes)
    return data


def expect(response, role, allowed):
    if role is None:
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    elif not allowed:
        assert response.status_code == 403
    return response


# --- one test per role for every view -------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_list(client, make_user, role):
    schedule = weekly()
    response = expect(signed_in(client, make_user, role).get("/schedules/"), role, role is not None)
    if role:
        content = response.content.decode()
        assert response.status_code == 200
        assert "Weekly chaos" in content and "At 02:00 on Monday" in content and "Europe/Berlin" in content
        assert "<code>users=30</code>" in content
        local = schedule.next_due_at.astimezone(ZoneInfo("Europe/Berlin"))   # Mondays 02:00 there
        assert local.strftime("%a %H:%M") == "Mon 02:00" and f"{local:%a %Y-%m-%d %H:%M} Europe/Berlin" in content
        assert (reverse("runbooks:schedule_edit", args=[schedule.pk]) in content) == (role == "admin")
        assert ("New schedule" in content) == (role == "admin")


@pytest.mark.parametrize("role", ROLES)
def test_new_form(client, make_user, role):
    weekly()
    client = signed_in(client, make_user, role)
    response = expect(client.get("/schedules/new/?runbook=chaos-suite"), role, role == "admin")
    if role == "admin":
        assert response.status_code == 200 and b'name="param-mode"' in response.content
        assert b'data-testid="pick-runbook"' in client.get("/schedules/new/").content


@pytest.mark.parametrize("role", ROLES)
def test_create(client, make_user, role):
    weekly()
    response = expect(signed_in(client, make_user, role).post("/schedules/new/", form()), role, role == "admin")
    created = Schedule.objects.filter(name="Nightly chaos").first()
    if role == "admin":
        assert response.status_code == 302 and response["Location"] == "/schedules/"
        assert created.parameters == {"mode": "hard", "target": "api"} and created.on_missed == "skip"
        assert created.enabled and created.next_due_at > timezone.now()
        assert AuditEntry.objects.get(action="schedule.created", object_id=str(created.pk)).actor.is_superuser
    else:
        assert created is None


@pytest.mark.parametrize("role", ROLES)
def test_edit(client, make_user, role):
    schedule = weekly()
    client = signed_in(client, make_user, role)
    url = f"/schedules/{schedule.pk}/edit/"
    expect(client.get(url), role, role == "admin")
    response = expect(client.post(url, form(name="Weekly chaos, later", cron="0 4 * * 1")), role, role == "admin")
    schedule.refresh_from_db()
    if role == "admin":
        assert response.status_code == 302
        assert schedule.name == "Weekly chaos, later" and schedule.cron == "0 4 * * 1"
        assert AuditEntry.objects.filter(action="schedule.updated").count() == 1
    else:
        assert schedule.cron == "0 2 * * 1"


@pytest.mark.parametrize("role", ROLES)
def test_turn_off_and_on(client, make_user, role):
    schedule = weekly()
    client = signed_in(client, make_user, role)
    expect(client.post(f"/schedules/{schedule.pk}/disable/"), role, role == "admin")
    schedule.refresh_from_db()
    assert schedule.enabled == (role != "admin")
    expect(client.post(f"/schedules/{schedule.pk}/enable/"), role, role == "admin")
    schedule.refresh_from_db()
    assert schedule.enabled and schedule.next_due_at
    if role == "admin":
        assert AuditEntry.objects.filter(action__in=["schedule.disabled", "schedule.enabled"]).count() == 2
        assert client.get(f"/schedules/{schedule.pk}/disable/").status_code == 405


@pytest.mark.parametrize("role", ROLES)
def test_delete(client, make_user, role):
    schedule = weekly()
    client = signed_in(client, make_user, role)
    url = f"/schedules/{schedule.pk}/delete/"
    response = expect(client.get(url), role, role == "admin")
    if role == "admin":
        assert b"Delete schedule Weekly chaos?" in response.content
        assert Schedule.objects.exists()   # the confirmation page deletes nothing
    expect(client.post(url), role, role == "admin")
    assert Schedule.objects.exists() == (role != "admin")
    if role == "admin":
        assert AuditEntry.objects.get(action="schedule.deleted").before["name"] == "Weekly chaos"


# --- CSRF, errors, links --------------------------------------------------------------

def test_every_post_needs_its_csrf_token(make_user):
    schedule = weekly()
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin"))
    for url, data in [("/schedules/new/", form()), (f"/schedules/{schedule.pk}/edit/", form(cron="0 5 * * *")),
                      (f"/schedules/{schedule.pk}/disable/", {}), (f"/schedules/{schedule.pk}/delete/", {})]:
        assert client.post(url, data).status_code == 403, url
    schedule.refresh_from_db()
    assert Schedule.objects.count() == 1 and schedule.enabled and schedule.cron == "0 2 * * 1"
    # With the token the page carries, the same POST goes through.
    page = client.get(f"/schedules/{schedule.pk}/edit/")
    token = page.context["csrf_token"]
    assert client.post(f"/schedules/{schedule.pk}/disable/", {"csrfmiddlewaretoken": token}).status_code == 302


def test_bad_cron_zone_and_parameters_are_shown_and_the_input_kept(client_as, make_user):
    weekly()
    client = client_as("admin")
    response = client.post("/schedules/new/", form(cron="every monday", time_zone="Mars/Olympus",
                                                   **{"param-users": "many", "param-target": "API!"}))
    content = response.content.decode()
    assert response.status_code == 400
    assert "Cron expression needs five fields" in content
    assert "Time zone &#x27;Mars/Olympus&#x27; is not an IANA time zone name" in content
    assert "users must be a whole number" in content and "target must match the pattern ^[a-z]+$" in content
    # What was typed is still there.
    assert 'value="every monday"' in content and 'value="Mars/Olympus"' in content
    assert 'value="many"' in content and 'value="API!"' in content and 'value="Nightly chaos"' in content
    assert not Schedule.objects.filter(name="Nightly chaos").exists()
    assert "Cron expression is not a valid cron expression" in client.post(
        "/schedules/new/", form(cron="61 * * * *")).content.decode()


def test_a_bad_form_on_edit_keeps_the_schedule(client_as):
    schedule = weekly()
    response = client_as("admin").post(f"/schedules/{schedule.pk}/edit/", form(cron="0 25 * * *"))
    assert response.status_code == 400 and b"Cron expression is not a valid" in response.content
    schedule.refresh_from_db()
    assert schedule.cron == "0 2 * * 1"


def test_an_unknown_runbook_is_refused(client_as):
    response = client_as("admin").get("/schedules/new/?runbook=nope")
    assert response.status_code == 400 and b"no runbook &#x27;nope&#x27;" in response.content


def test_runbook_page_links_to_its_schedules(client_as):
    schedule = weekly()
    client = client_as("responder")
    content = client.get("/runbooks/chaos-suite/").content.decode()
    assert '/schedules/?runbook=chaos-suite' in content
    listed = client.get("/schedules/?runbook=chaos-suite").content.decode()
    assert "Weekly chaos" in listed and "Schedules of Chaos Suite" in listed
    assert client.get("/schedules/?runbook=nope").status_code == 404
    assert schedule.pk


def test_the_list_links_the_last_run_and_says_why_one_did_not_start(client_as, make_user):
    admin = make_user("admin")
    schedule = weekly(owner=admin)
    schedules.fire_due_schedules(schedule.next_due_at + timedelta(seconds=5))
    run = Run.objects.get()
    content = client_as("auditor").get("/schedules/").content.decode()
    assert f'href="/runs/{run.pk}/"' in content
    Schedule.objects.filter(pk=schedule.pk).update(last_error="admin1 may no longer start runs")
    assert "may no longer start runs" in client_as("auditor").get("/schedules/").content.decode()
