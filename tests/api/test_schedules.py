"""/api/v1/schedules through HTTP: listed and read by every role that reads runbooks,
turned on and off by admins only (as on the schedules page), with the page's audit entries."""
import pytest
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from ops_console.runbooks import schedules
from ops_console.runbooks.document import Parameter
from ops_console.runbooks.models import Schedule

from .conftest import ROLES, error_of
from tests.runbooks.builders import make_doc, make_version, step


def weekly(owner, name="Weekly chaos", slug="chaos-suite", **kw):
    runbook = make_version(make_doc(step("manual", "look at it"), slug=slug,
                                    parameters=[Parameter("users", type="int", default=20)])).runbook
    return schedules.do_create_schedule(name=name, runbook=runbook, cron="0 2 * * 1", time_zone="Europe/Berlin",
                                        parameters={"users": 30}, acting_user=owner, **kw)


@pytest.mark.parametrize("role", [*ROLES, None])
def test_read_per_role(api_as, make_user, role):
    owner = make_user("admin")
    schedule = weekly(owner)
    api = api_as(role)
    listed, read = api.get("/api/v1/schedules"), api.get(f"/api/v1/schedules/{schedule.pk}")
    if role is None:
        assert listed.status_code == read.status_code == 403
        return
    assert listed.status_code == read.status_code == 200
    assert listed.json()["items"] == [read.json()] and listed.json()["next"] is None
    body = read.json()
    assert {k: body[k] for k in ("id", "name", "runbook", "cron", "cron_in_words", "time_zone", "parameters",
                                 "enabled", "on_missed", "last_run", "last_error", "owner")} == {
        "id": schedule.pk, "name": "Weekly chaos", "runbook": "chaos-suite", "cron": "0 2 * * 1",
        "cron_in_words": "At 02:00 on Monday", "time_zone": "Europe/Berlin", "parameters": {"users": 30},
        "enabled": True, "on_missed": "run_once_late", "last_run": None, "last_error": "", "owner": owner.username}
    assert body["next_due_at"] is not None


@pytest.mark.parametrize("role", ROLES)
def test_turn_off_and_on_per_role(api_as, make_user, role):
    schedule = weekly(make_user("admin"))
    api = api_as(role)
    before = AuditEntry.objects.count()
    off = api.post(f"/api/v1/schedules/{schedule.pk}/disable")
    schedule.refresh_from_db()
    if role == "admin":
        assert off.status_code == 200 and off.json()["enabled"] is False and off.json()["next_due_at"] is None
        assert not schedule.enabled
        on = api.post(f"/api/v1/schedules/{schedule.pk}/enable")
        assert on.status_code == 200 and on.json()["enabled"] is True and on.json()["next_due_at"]
        assert list(AuditEntry.objects.order_by("-id").values_list("action", flat=True)[:2]) == [
            "schedule.enabled", "schedule.disabled"]
    else:
        assert off.status_code == 403 and error_of(off)[0] == "forbidden"
        assert api.post(f"/api/v1/schedules/{schedule.pk}/enable").status_code == 403
        assert schedule.enabled and AuditEntry.objects.count() == before


def test_the_audit_entry_equals_the_page(client_as, api_as):
    client = client_as("admin")
    by_page, by_api = weekly(client.user), weekly(client.user, name="Other", slug="other-suite")
    client.post(reverse("runbooks:schedule_disable", args=[by_page.pk]))
    page_entry = AuditEntry.objects.order_by("-id").first()
    assert api_as(None, user=client.user).post(f"/api/v1/schedules/{by_api.pk}/disable").status_code == 200
    api_entry = AuditEntry.objects.order_by("-id").first()
    assert page_entry.action == api_entry.action == "schedule.disabled"
    for entry in (page_entry, api_entry):
        for side in (entry.before, entry.after):
            del side["name"], side["runbook"]  # the two schedules' own
    assert (api_entry.object_type, api_entry.actor_id, api_entry.before, api_entry.after) == \
        (page_entry.object_type, page_entry.actor_id, page_entry.before, page_entry.after)


def test_filters_pages_and_refusals(api_as, make_user):
    owner = make_user("admin")
    a = weekly(owner)
    b = weekly(owner, name="Nightly", slug="nightly-suite", enabled=False)
    api = api_as("responder")

    def ids(**params):
        return [s["id"] for s in api.get("/api/v1/schedules", params).json()["items"]]

    assert ids() == [b.pk, a.pk]
    assert ids(runbook="chaos-suite") == [a.pk] and ids(runbook="nope") == []
    assert ids(enabled="true") == [a.pk] and ids(enabled="false") == [b.pk]
    first = api.get("/api/v1/schedules", {"limit": 1}).json()
    assert ids(limit=1, cursor=first["next"]) == [a.pk]
    assert api.get("/api/v1/schedules/999999").status_code == 404
    admin = api_as("admin")
    assert admin.post("/api/v1/schedules/999999/enable").status_code == 404
    # Turning on what is on changes nothing and records nothing, as on the page.
    before = AuditEntry.objects.count()
    assert admin.post(f"/api/v1/schedules/{a.pk}/enable").status_code == 200
    assert AuditEntry.objects.count() == before and Schedule.objects.get(pk=a.pk).enabled
