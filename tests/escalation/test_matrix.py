"""The default escalation matrix with a controlled clock: who is paged when, per severity."""
from datetime import timedelta

import pytest

from ops_console.escalation import engine
from ops_console.escalation.models import EscalationPolicy
from ops_console.incidents.actions import do_acknowledge, do_change_status
from ops_console.incidents.models import TimelineEvent

from .conftest import open_incident, pages_of

MIN = timedelta(minutes=1)

# severity -> [(minutes after opening, the role paged then)]
EXPECTED = {
    "P0": [(0, "oncall_sre"), (30, "incident_commander"), (60, "vp_engineering"), (120, "cto")],
    "P1": [(0, "oncall_sre"), (30, "senior_sre"), (60, "engineering_manager"), (120, "vp_engineering")],
    "P2": [(0, "oncall_sre"), (30, "senior_sre"), (120, "engineering_manager")],
}


@pytest.mark.parametrize("code", ["P0", "P1", "P2"])
def test_each_level_pages_its_role_on_time_acknowledged_or_not(on_call, code):
    """The matrix as the playbooks mean it: on-call acknowledges at minute 1, and
    the later levels still hear of the incident while it is unresolved."""
    incident = open_incident(code)
    t0 = incident.escalation.started_at
    engine.fire_due(t0)
    do_acknowledge(incident, acting_user=on_call["oncall-sre"])
    expected = [(1, "oncall_sre")]
    for level, (minutes, username) in list(enumerate(EXPECTED[code], start=1))[1:]:
        engine.fire_due(t0 + minutes * MIN - timedelta(seconds=1))
        assert pages_of(incident) == expected, f"{code} paged early before {minutes} min"
        engine.fire_due(t0 + minutes * MIN)
        expected.append((level, username))
        assert pages_of(incident) == expected
    engine.fire_due(t0 + timedelta(days=1))
    assert pages_of(incident) == expected


def test_an_acknowledged_p0_still_open_reaches_the_commander_the_vp_and_the_cto(on_call):
    incident = open_incident("P0")
    t0 = incident.escalation.started_at
    engine.fire_due(t0)
    do_acknowledge(incident, acting_user=on_call["oncall-sre"])
    fired_at = {}
    for minute in range(0, 181):
        before = len(pages_of(incident))
        engine.fire_due(t0 + minute * MIN)
        for level, username in pages_of(incident)[before:]:
            fired_at[username] = minute
    assert fired_at == {"incident_commander": 30, "vp_engineering": 60, "cto": 120}
    reasons = list(TimelineEvent.objects.filter(incident=incident, kind="escalated").values_list("message", flat=True))
    assert reasons == [f"Escalated to level {n}: {role}, because the incident is still unresolved (acknowledged)."
                       for n, role in ((2, "Incident commander"), (3, "VP of Engineering"), (4, "CTO"))]


def test_the_first_level_pages_again_every_five_minutes_until_acknowledged(on_call):
    incident = open_incident("P1")
    t0 = incident.escalation.started_at
    for minute in (0, 5, 10):
        engine.fire_due(t0 + minute * MIN)
    assert pages_of(incident) == [(1, "oncall_sre")] * 3
    assert TimelineEvent.objects.filter(incident=incident, kind="escalated").last().message == (
        "Paged level 1 again (On-call SRE, repeat 2): nobody has acknowledged the incident.")
    do_acknowledge(incident, acting_user=on_call["oncall-sre"])
    engine.fire_due(t0 + 29 * MIN)
    assert pages_of(incident) == [(1, "oncall_sre")] * 3


def test_resolving_stops_every_level(on_call):
    incident = open_incident("P0")
    t0 = incident.escalation.started_at
    engine.fire_due(t0)
    do_change_status(incident, "resolved", acting_user=on_call["oncall-sre"])
    engine.fire_due(t0 + timedelta(days=1))
    assert pages_of(incident) == [(1, "oncall_sre")]


def test_the_board_says_who_is_next_and_on_what_condition(on_call):
    incident = open_incident("P0")
    t0 = incident.escalation.started_at
    engine.fire_due(t0)
    assert engine.board_status([incident])[incident.pk]["next_if"] == "if not acknowledged"   # level 1 again
    do_acknowledge(incident, acting_user=on_call["oncall-sre"])
    status = engine.board_status([incident])[incident.pk]
    assert (status["next_role"], status["next_if"]) == ("Incident commander", "if unresolved")


def test_p3_is_a_ticket_and_pages_nobody(on_call):
    incident = open_incident("P3")
    engine.fire_due(incident.escalation.started_at + timedelta(days=1))
    assert pages_of(incident) == []
    assert incident.escalation.snapshot["levels"] == []
    assert EscalationPolicy.objects.get(severity="P3", service=None).description == "A ticket, no page."


def test_the_first_level_stops_on_acknowledgement_and_the_later_ones_on_resolution(on_call):
    for code, levels in EXPECTED.items():
        rules = list(EscalationPolicy.objects.get(severity=code, service=None).levels.values_list(
            "stop_on", "repeat_every_minutes"))
        assert rules == [("ack", 5)] + [("resolve", None)] * (len(levels) - 1), code


def test_default_policies_made_before_are_upgraded_but_an_admins_edits_are_kept(on_call):
    from django.apps import apps

    from ops_console.escalation import matrix
    from ops_console.escalation.models import EscalationLevel

    EscalationLevel.objects.filter(policy__service=None).update(stop_on="ack", repeat_every_minutes=None)
    EscalationLevel.objects.filter(policy__severity="P2", position=2).update(delay_minutes=45)   # an admin's edit
    changed = matrix.escalate_while_unresolved(apps.get_model("escalation", "EscalationPolicy"),
                                               apps.get_model("escalation", "EscalationLevel"))
    assert changed == 2
    p0 = EscalationPolicy.objects.get(severity="P0", service=None)
    assert list(p0.levels.values_list("stop_on", flat=True)) == ["ack", "resolve", "resolve", "resolve"]
    p2 = EscalationPolicy.objects.get(severity="P2", service=None)
    assert set(p2.levels.values_list("stop_on", flat=True)) == {"ack"}


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
