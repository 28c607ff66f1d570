"""The default escalation matrix with a controlled clock: who is paged when, per severity."""
from datetime import timedelta

import pytest

from ops_console.escalation import engine
from ops_console.escalation.models import EscalationPolicy, ScheduledLevel

from .conftest import open_incident, pages_of

MIN = timedelta(minutes=1)

# severity -> [(minutes after opening, the role paged then)]
EXPECTED = {
    "P0": [(0, "oncall_sre"), (30, "incident_commander"), (60, "vp_engineering"), (120, "cto")],
    "P1": [(0, "oncall_sre"), (30, "senior_sre"), (60, "engineering_manager"), (120, "vp_engineering")],
    "P2": [(0, "oncall_sre"), (30, "senior_sre"), (120, "engineering_manager")],
}


@pytest.mark.parametrize("code", ["P0", "P1", "P2"])
def test_each_level_pages_its_role_on_time(on_call, code):
    incident = open_incident(code)
    t0 = incident.escalation.started_at
    expected = []
    for level, (minutes, username) in enumerate(EXPECTED[code], start=1):
        engine.fire_due(t0 + minutes * MIN - timedelta(seconds=1))
        assert pages_of(incident) == expected, f"{code} paged early before {minutes} min"
        engine.fire_due(t0 + minutes * MIN)
        expected.append((level, username))
        assert pages_of(incident) == expected
    engine.fire_due(t0 + timedelta(days=1))
    assert pages_of(incident) == expected


def test_p3_is_a_ticket_and_pages_nobody(on_call):
    incident = open_incident("P3")
    engine.fire_due(incident.escalation.started_at + timedelta(days=1))
    assert pages_of(incident) == []
    assert incident.escalation.snapshot["levels"] == []
    assert EscalationPolicy.objects.get(severity="P3", service=None).description == "A ticket, no page."


def test_levels_of_the_default_matrix_stop_on_acknowledgement(on_call):
    incident = open_incident("P0")
    assert set(ScheduledLevel.objects.filter(incident=incident).values_list("stop_on", flat=True)) == {"ack"}


def test_a_service_policy_wins_over_the_default(on_call):
    from ops_console.escalation.actions import do_create_policy, do_save_policy
    from ops_console.escalation.models import ResponseRole

    from .conftest import service

    api = service("api")
    policy = do_create_policy(severity="P1", service=api, name="API P1", acting_user=None)
    cto = ResponseRole.objects.get(slug="cto")
    do_save_policy(policy, name="API P1", description="", acting_user=None, levels=[
        {"delay_minutes": 0, "role": cto, "stop_on": "resolve", "repeat_every_minutes": None}])
    incident = open_incident("P1", services=[api])
    engine.fire_due(incident.escalation.started_at)
    assert pages_of(incident) == [(1, "cto")]
    assert incident.escalation.snapshot["service"] == "api"


def test_with_several_services_the_first_by_name_with_a_policy_wins(on_call):
    from ops_console.escalation.actions import do_create_policy, do_save_policy
    from ops_console.escalation.models import ResponseRole

    from .conftest import service

    api, web = service("api"), service("web")
    for svc, role in ((api, "cto"), (web, "vp-engineering")):
        policy = do_create_policy(severity="P1", service=svc, name=f"{svc.slug} P1", acting_user=None)
        do_save_policy(policy, name=policy.name, description="", acting_user=None, levels=[
            {"delay_minutes": 0, "role": ResponseRole.objects.get(slug=role), "stop_on": "ack",
             "repeat_every_minutes": None}])
    incident = open_incident("P1", services=[web, api, web])
    assert sorted(incident.services.values_list("slug", flat=True)) == ["api", "web"]
    assert incident.escalation.snapshot["service"] == "api"
