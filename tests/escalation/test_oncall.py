"""Rotations: weekly hand-over at a weekday and time, in the rotation's zone; overrides win."""
from datetime import date, datetime, time, timezone as tz

import pytest

from ops_console.escalation.matrix import ensure_defaults
from ops_console.escalation.models import RotationOverride
from ops_console.escalation.oncall import Schedule, on_call_board, who_holds

from .conftest import staff_rotation

UTC = tz.utc


@pytest.fixture
def team(db, make_user):
    ensure_defaults()
    return [make_user("responder", username=name) for name in ("ann", "bob", "cy")]


def at(*args):
    return datetime(*args, tzinfo=UTC)


def test_members_take_turns_a_week_each_handing_over_monday_9(team):
    ann, bob, cy = team
    staff_rotation("oncall-sre", ann, bob, cy, starts_on=date(2026, 1, 5))  # a Monday
    assert who_holds("oncall-sre", at(2026, 1, 5, 8, 59)) is None  # before the first shift
    assert who_holds("oncall-sre", at(2026, 1, 5, 9, 0)) == ann
    assert who_holds("oncall-sre", at(2026, 1, 12, 8, 59, 59)) == ann
    assert who_holds("oncall-sre", at(2026, 1, 12, 9, 0)) == bob
    assert who_holds("oncall-sre", at(2026, 1, 21, 3, 0)) == cy
    assert who_holds("oncall-sre", at(2026, 1, 26, 9, 0)) == ann  # round again


def test_first_shift_starts_at_the_first_handover_on_or_after_the_start_day(team):
    ann, bob, _ = team
    staff_rotation("oncall-sre", ann, bob, starts_on=date(2026, 1, 1), weekday=2, at=time(17, 30))  # Wednesdays
    assert who_holds("oncall-sre", at(2026, 1, 7, 17, 29)) is None
    assert who_holds("oncall-sre", at(2026, 1, 7, 17, 30)) == ann
    assert who_holds("oncall-sre", at(2026, 1, 14, 17, 30)) == bob


def test_handover_stays_at_local_time_across_daylight_saving(team):
    ann, bob, _ = team
    staff_rotation("oncall-sre", ann, bob, starts_on=date(2026, 3, 23), zone="Europe/Berlin")  # CET, then CEST
    assert who_holds("oncall-sre", at(2026, 3, 23, 8, 0)) == ann  # 09:00 CET
    assert who_holds("oncall-sre", at(2026, 3, 30, 6, 59)) == ann
    assert who_holds("oncall-sre", at(2026, 3, 30, 7, 0)) == bob  # 09:00 CEST


def test_an_override_wins_for_its_range_only(team):
    ann, bob, cy = team
    rotation = staff_rotation("oncall-sre", ann, bob, starts_on=date(2026, 1, 5))
    RotationOverride.objects.create(rotation=rotation, user=cy, starts_at=at(2026, 1, 6, 18), ends_at=at(2026, 1, 7, 6),
                                    reason="Ann at a wedding")
    assert who_holds("oncall-sre", at(2026, 1, 6, 17, 59)) == ann
    assert who_holds("oncall-sre", at(2026, 1, 6, 18)) == cy
    assert who_holds("oncall-sre", at(2026, 1, 7, 6)) == ann


def test_the_newest_of_overlapping_overrides_wins(team):
    ann, bob, cy = team
    rotation = staff_rotation("oncall-sre", ann, starts_on=date(2026, 1, 5))
    RotationOverride.objects.create(rotation=rotation, user=bob, starts_at=at(2026, 1, 6), ends_at=at(2026, 1, 8))
    RotationOverride.objects.create(rotation=rotation, user=cy, starts_at=at(2026, 1, 7), ends_at=at(2026, 1, 9))
    assert who_holds("oncall-sre", at(2026, 1, 7, 12)) == cy


def test_next_on_call_and_when(team):
    ann, bob, cy = team
    rotation = staff_rotation("oncall-sre", ann, bob, starts_on=date(2026, 1, 5))
    schedule = Schedule(rotation)
    assert schedule.next_change(at(2026, 1, 7)) == (bob, at(2026, 1, 12, 9))
    RotationOverride.objects.create(rotation=rotation, user=cy, starts_at=at(2026, 1, 8), ends_at=at(2026, 1, 9))
    assert Schedule(rotation).next_change(at(2026, 1, 7)) == (cy, at(2026, 1, 8))
    assert Schedule(rotation).next_change(at(2026, 1, 8, 12)) == (ann, at(2026, 1, 9))


def test_on_call_board_lists_every_role(team):
    ann, bob, _ = team
    staff_rotation("oncall-sre", ann, bob, starts_on=date(2026, 1, 5))
    rows = {role.slug: (shift, nxt) for role, rotation, shift, nxt, _ in on_call_board(at(2026, 1, 7))}
    assert len(rows) == 6
    assert rows["oncall-sre"][0].user == ann and rows["oncall-sre"][0].ends_at == at(2026, 1, 12, 9)
    assert rows["oncall-sre"][1] == bob
    assert rows["cto"] == (None, None)


def test_a_rotation_without_members_has_nobody(team):
    staff_rotation("cto", starts_on=date(2026, 1, 5))
    assert who_holds("cto", at(2026, 2, 1)) is None
