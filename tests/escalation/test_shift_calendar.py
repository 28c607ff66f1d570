"""The calendar's arithmetic: stretches cut at hand-overs and overrides, and days in the viewer's zone."""
from datetime import date, datetime, timezone as tz
from zoneinfo import ZoneInfo

import pytest

from ops_console.escalation.matrix import ensure_defaults
from ops_console.escalation.models import RotationOverride
from ops_console.escalation.oncall import Schedule
from ops_console.escalation.shift_calendar import days, month_grid, segments

from .conftest import staff_rotation

UTC = tz.utc


@pytest.fixture
def rotation(db, make_user):
    ensure_defaults()
    ann, bob = make_user("responder", username="ann"), make_user("responder", username="bob")
    return staff_rotation("oncall-sre", ann, bob, starts_on=date(2026, 1, 5))


def names(found):
    return [(s.user.username if s.user else None, s.starts_at.astimezone(UTC).strftime("%d %H:%M")) for s in found]


def test_segments_cut_at_handovers_and_overrides(rotation):
    bob = rotation.members.get(position=1).user
    RotationOverride.objects.create(rotation=rotation, user=bob, starts_at=datetime(2026, 1, 6, 18, tzinfo=UTC),
                                    ends_at=datetime(2026, 1, 7, 6, tzinfo=UTC))
    found = segments(Schedule(rotation), datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 13, tzinfo=UTC))
    assert names(found) == [(None, "05 00:00"), ("ann", "05 09:00"), ("bob", "06 18:00"), ("ann", "07 06:00"),
                            ("bob", "12 09:00")]
    assert found[2].override is not None and found[1].override is None


def test_days_are_the_viewers_days(rotation):
    tokyo = ZoneInfo("Asia/Tokyo")  # UTC+9: the 09:00 UTC hand-over is 18:00 there
    week = days(rotation, date(2026, 1, 12), 7, tokyo)
    monday = week[0]
    assert [(s.user.username, s.starts_at.astimezone(tokyo).strftime("%H:%M")) for s in monday.segments] == [
        ("ann", "00:00"), ("bob", "18:00")]


def test_a_month_is_whole_weeks_monday_first(rotation):
    grid = month_grid(rotation, date(2026, 2, 14), UTC)
    assert grid[0][0].date == date(2026, 1, 26) and grid[-1][-1].date == date(2026, 3, 1)
    assert all(len(w) == 7 for w in grid) and not grid[0][0].in_month and grid[1][0].in_month
