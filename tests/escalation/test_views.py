"""The pages and every mutating view, per role: who may, who gets 403 and
changes nothing, and that each change is audited."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ops_console.audit.models import AuditEntry
from ops_console.escalation import engine
from ops_console.escalation.models import (EscalationPolicy, MaintenanceWindow, Page, ResponseRole, Rotation,
                                           RotationOverride)

from .conftest import open_incident, service, staff_rotation


def fmt(dt):
    return dt.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def world(on_call):
    """A service, a window, an override and a page, so every mutating URL has something to act on."""
    api = service("api")
    now = timezone.now()
    window = MaintenanceWindow.objects.create(service=api, starts_at=now - timedelta(hours=1),
                                              ends_at=now + timedelta(hours=1), reason="upgrade")
    rotation = Rotation.objects.get(role__slug="oncall-sre")
    override = RotationOverride.objects.create(rotation=rotation, user=on_call["cto"], starts_at=now,
                                               ends_at=now + timedelta(hours=2))
    incident = open_incident("P1")
    engine.fire_due(incident.escalation.started_at)
    return {"api": api, "window": window, "override": override, "page": Page.objects.get(incident=incident),
            "policy": EscalationPolicy.objects.get(severity="P1", service=None)}


def mutations(world):
    now = timezone.now()
    policy = world["policy"]
    role = ResponseRole.objects.get(slug="cto")
    return {
        "rotation": (reverse("escalation:rotation", args=["oncall-sre"]),
                     {"members": "cto", "handover_weekday": 0, "handover_time": "09:00", "timezone": "UTC",
                      "starts_on": "2026-01-05"}),
        "add_override": (reverse("escalation:add_override", args=["oncall-sre"]),
                         {"username": "cto", "starts_at": fmt(now + timedelta(hours=3)),
                          "ends_at": fmt(now + timedelta(hours=4))}),  # after the world's override: no overlap
        "remove_override": (reverse("escalation:remove_override", args=["oncall-sre", world["override"].pk]), {}),
        "new_policy": (reverse("escalation:new_policy"),
                       {"severity": "P1", "service": world["api"].pk, "name": "API P1"}),
        "edit_policy": (reverse("escalation:edit_policy", args=[policy.pk]),
                        {"name": "P1 edited", "description": "", "levels-TOTAL_FORMS": 1, "levels-INITIAL_FORMS": 0,
                         "levels-0-delay_minutes": 0, "levels-0-role": role.pk, "levels-0-stop_on": "ack"}),
        "new_window": (reverse("escalation:new_window"),
                       {"service": world["api"].pk, "starts_at": fmt(now), "ends_at": fmt(now + timedelta(hours=1)),
                        "reason": "kernel patch"}),
        "end_window": (reverse("escalation:end_window", args=[world["window"].pk]), {}),
        "acknowledge_page": (reverse("escalation:acknowledge_page", args=[world["page"].pk]), {}),
    }


ALLOWED = {
    "responder": set(),
    "commander": {"new_window", "end_window", "add_override", "remove_override"},  # overrides for anyone
    "auditor": set(),
    "admin": {"rotation", "add_override", "remove_override", "new_policy", "edit_policy", "new_window", "end_window"},
}


@pytest.mark.parametrize("role", ["responder", "commander", "auditor", "admin"])
def test_mutating_views_per_role(client_as, world, role):
    client = client_as(role)
    for name, (url, data) in mutations(world).items():
        if name == "acknowledge_page":
            continue  # one's own page only: tested below
        before = AuditEntry.objects.count()
        response = client.post(url, data)
        if name in ALLOWED[role]:
            assert response.status_code == 302, (name, response.content[:500])
            assert AuditEntry.objects.count() > before, f"{name} is not audited"
        else:
            assert response.status_code == 403, (role, name)
            assert AuditEntry.objects.count() == before


def test_mutating_views_refuse_get(client_as, world):
    client = client_as("admin")
    for name, (url, _) in mutations(world).items():
        if name != "rotation":  # its GET is the edit form
            assert client.get(url).status_code == 405, name


def test_the_paged_responder_acknowledges_from_my_pages(client, world):
    page = world["page"]
    client.force_login(page.user)
    response = client.get(reverse("escalation:pages"))
    assert page.incident.reference.encode() in response.content and b"Acknowledge" in response.content
    response = client.post(reverse("escalation:acknowledge_page", args=[page.pk]), follow=True)
    assert b"acknowledged" in response.content
    page.incident.refresh_from_db()
    assert page.incident.status == "acknowledged"


@pytest.mark.parametrize("role", ["commander", "auditor"])
def test_nobody_acknowledges_someone_elses_page(client_as, world, role):
    response = client_as(role).post(reverse("escalation:acknowledge_page", args=[world["page"].pk]))
    assert response.status_code in (403, 404)
    world["page"].incident.refresh_from_db()
    assert world["page"].incident.status == "triggered"


@pytest.mark.parametrize("role,url,status", [
    ("responder", "escalation:oncall", 200), ("auditor", "escalation:oncall", 200),
    ("responder", "escalation:policies", 403), ("commander", "escalation:policies", 200),
    ("auditor", "escalation:policies", 200), ("responder", "escalation:maintenance", 200),
    ("auditor", "escalation:pages", 200),
])
def test_read_pages_per_role(client_as, world, role, url, status):
    assert client_as(role).get(reverse(url)).status_code == status


def test_oncall_page_shows_who_holds_each_role(client_as, world):
    response = client_as("responder").get(reverse("escalation:oncall"))
    assert b"On-call SRE" in response.content and b"override" in response.content  # the cto override is current
    assert b"senior_sre" in response.content


def test_admin_saves_a_rotation_in_order(client_as, on_call):
    client = client_as("admin")
    response = client.post(reverse("escalation:rotation", args=["cto"]), {
        "members": "vp_engineering\ncto", "handover_weekday": 4, "handover_time": "17:00",
        "timezone": "Europe/Berlin", "starts_on": "2026-01-01"})
    assert response.status_code == 302
    rotation = Rotation.objects.get(role__slug="cto")
    assert [m.user.username for m in rotation.members.all()] == ["vp_engineering", "cto"]
    assert rotation.timezone == "Europe/Berlin" and rotation.handover_weekday == 4


def test_bad_rotation_input_says_what_is_wrong_and_changes_nothing(client_as, on_call):
    client = client_as("admin")
    response = client.post(reverse("escalation:rotation", args=["cto"]), {
        "members": "ghost", "handover_weekday": 0, "handover_time": "09:00", "timezone": "Mars/Olympus",
        "starts_on": "2026-01-01"})
    assert response.status_code == 400
    assert b"No active user named ghost" in response.content and b"not a time zone" in response.content
    assert [m.user.username for m in Rotation.objects.get(role__slug="cto").members.all()] == ["cto"]


def test_admin_edits_policy_levels(client_as, world):
    _, (url, data) = "edit_policy", mutations(world)["edit_policy"]
    client_as("admin").post(url, data)
    policy = EscalationPolicy.objects.get(pk=world["policy"].pk)
    assert policy.name == "P1 edited"
    assert [(lv.delay_minutes, lv.role.slug) for lv in policy.levels.all()] == [(0, "cto")]
    entry = AuditEntry.objects.get(action="escalation_policy.changed")
    assert len(entry.before["levels"]) == 4 and len(entry.after["levels"]) == 1


def test_a_window_ending_before_it_starts_is_refused(client_as, world):
    now = timezone.now()
    response = client_as("commander").post(reverse("escalation:new_window"), {
        "service": world["api"].pk, "starts_at": fmt(now), "ends_at": fmt(now - timedelta(hours=1)), "reason": "x"})
    assert response.status_code == 400 and b"must end after it starts" in response.content
    assert MaintenanceWindow.objects.count() == 1


def test_maintenance_page_shows_active_windows(client_as, world):
    response = client_as("auditor").get(reverse("escalation:maintenance"))
    assert b"upgrade" in response.content and b"active" in response.content
    assert b"End now" not in response.content  # the auditor changes nothing


def test_my_pages_empty_state(client_as, world):
    assert b"Nobody paged you" in client_as("responder").get(reverse("escalation:pages")).content


def test_rotation_page_for_admin(client_as, world):
    staff_rotation("cto")
    response = client_as("admin").get(reverse("escalation:rotation", args=["oncall-sre"]))
    assert response.status_code == 200 and b"Coming hand-overs" in response.content


def test_my_pages_refresh_swaps_only_the_list(client, world):
    client.force_login(world["page"].user)
    response = client.get(reverse("escalation:pages"), headers={"HX-Request": "true"})
    assert b'data-testid="pages"' in response.content and b"<html" not in response.content


def test_policy_page_is_read_only_for_the_commander(client_as, world):
    response = client_as("commander").get(reverse("escalation:policy", args=[world["policy"].pk]))
    assert b"Senior SRE" in response.content and b"Save policy" not in response.content
