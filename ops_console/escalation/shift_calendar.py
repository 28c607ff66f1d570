"""A rotation laid out as a calendar: who holds the role over a range of
time, cut at every hand-over and override, and then into the viewer's days
(a day in Tokyo is not a day in UTC)."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .oncall import Schedule


@dataclass
class Segment:
    user: object  # None: nobody holds the role
    starts_at: datetime
    ends_at: datetime
    override: object = None

    @property
    def hours(self):
        return (self.ends_at - self.starts_at).total_seconds() / 3600


def schedule_between(rotation, start, end, overrides=None):
    """The rotation's schedule with only the overrides that touch start..end, users loaded."""
    if overrides is None:
        overrides = rotation.overrides.filter(ends_at__gt=start, starts_at__lt=end).select_related("user")
    return Schedule(rotation, members=rotation.members.select_related("user"), overrides=overrides)


def segments(schedule, start, end):
    """[Segment] covering start..end without gaps: one per stretch with one holder."""
    bounds = {start, end}
    for o in schedule.overrides:
        bounds.update(t for t in (o.starts_at, o.ends_at) if start < t < end)
    moment = start
    while moment < end:  # the regular hand-overs inside the range
        regular = schedule.rotation_shift(moment)
        if regular is None:
            first = schedule._handover(schedule._first_day()) if schedule.members else None
            if first is None or first >= end:
                break
            moment = max(first, moment + timedelta(seconds=1))
            bounds.add(first if first > start else start)
            continue
        moment = regular.ends_at
        if moment < end:
            bounds.add(moment)
    cuts = sorted(bounds)
    found = []
    for a, b in zip(cuts, cuts[1:]):
        shift = schedule.shift(a)
        user = shift.user if shift else None
        override = shift.override if shift else None
        if found and found[-1].user == user and found[-1].override == override:
            found[-1].ends_at = b
        else:
            found.append(Segment(user, a, b, override))
    return found


@dataclass
class Day:
    date: date
    segments: list
    in_month: bool = True


def days(rotation, first_day, count, zone, overrides=None):
    """[Day] for `count` days from `first_day` in `zone`, each with the segments inside it."""
    start = datetime.combine(first_day, time.min, tzinfo=zone)
    end = datetime.combine(first_day + timedelta(days=count), time.min, tzinfo=zone)
    schedule = schedule_between(rotation, start, end, overrides)
    all_segments = segments(schedule, start, end)
    result = []
    for n in range(count):
        day = first_day + timedelta(days=n)
        day_start = datetime.combine(day, time.min, tzinfo=zone)
        day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
        inside = [Segment(s.user, max(s.starts_at, day_start), min(s.ends_at, day_end), s.override)
                  for s in all_segments if s.starts_at < day_end and s.ends_at > day_start]
        result.append(Day(day, inside))
    return result


def week_start(day):
    return day - timedelta(days=day.weekday())


def month_grid(rotation, any_day, zone, overrides=None):
    """[[Day] * 7] covering the month of `any_day`, Monday first."""
    first = any_day.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    start = week_start(first)
    count = ((next_month - start).days + 6) // 7 * 7
    all_days = days(rotation, start, count, zone, overrides)
    for d in all_days:
        d.in_month = d.date.month == first.month
    return [all_days[i:i + 7] for i in range(0, count, 7)]


def upcoming_shifts(rotation, user, start, weeks=8):
    """The stretches `user` holds the role in the next `weeks`, for choosing what to swap."""
    end = start + timedelta(weeks=weeks)
    return [s for s in segments(schedule_between(rotation, start, end), start, end) if s.user == user]
