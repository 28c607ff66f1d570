"""Who holds a response role when: weekly rotations with hand-over at a
weekday and time in the rotation's own zone (so a DST change keeps the
hand-over at 09:00 local), and overrides that win for their time range."""
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Prefetch
from django.utils import timezone

from .models import ResponseRole, Rotation, RotationMember, RotationOverride

WEEK = timedelta(days=7)


@dataclass
class Shift:
    user: object
    starts_at: datetime
    ends_at: datetime
    override: object = None


class Schedule:
    """A rotation with its members and overrides loaded: answers without queries."""

    def __init__(self, rotation, members=None, overrides=None):
        self.rotation = rotation
        self.zone = ZoneInfo(rotation.timezone)
        self.members = [m.user for m in (members if members is not None else rotation.members.all())]
        self.overrides = list(overrides if overrides is not None else rotation.overrides.all())

    def _handover(self, day):
        return datetime.combine(day, self.rotation.handover_time, tzinfo=self.zone)

    def _first_day(self):
        start = self.rotation.starts_on
        return start + timedelta(days=(self.rotation.handover_weekday - start.weekday()) % 7)

    def rotation_shift(self, at):
        """The regular (non-override) shift around `at`, or None before the rotation starts or without members."""
        local = at.astimezone(self.zone)
        day = local.date() - timedelta(days=(local.weekday() - self.rotation.handover_weekday) % 7)
        if self._handover(day) > local:
            day -= WEEK
        index = (day - self._first_day()).days // 7
        if index < 0 or not self.members:
            return None
        return Shift(self.members[index % len(self.members)], self._handover(day), self._handover(day + WEEK))

    def override_at(self, at):
        covering = [o for o in self.overrides if o.starts_at <= at < o.ends_at]
        # The newest override wins when two overlap.
        return max(covering, key=lambda o: (o.created_at or o.starts_at, o.pk or 0)) if covering else None

    def shift(self, at):
        override = self.override_at(at)
        if override:
            return Shift(override.user, override.starts_at, override.ends_at, override)
        return self.rotation_shift(at)

    def holder(self, at):
        current = self.shift(at)
        return current.user if current else None

    def next_change(self, at, horizon=8):
        """(user, from) of the next person to hold the role after `at`'s holder."""
        current = self.holder(at)
        moment = at
        for _ in range(horizon):
            moment = self._next_boundary(moment)
            if moment is None:
                return None, None
            user = self.holder(moment)
            if user != current:
                return user, moment
        return None, None

    def _next_boundary(self, at):
        candidates = [o.starts_at for o in self.overrides if o.starts_at > at]
        candidates += [o.ends_at for o in self.overrides if o.ends_at > at]
        regular = self.rotation_shift(at)
        if regular:
            candidates.append(regular.ends_at)
        elif self.members:
            first = self._handover(self._first_day())
            if first > at:
                candidates.append(first)
        return min(candidates) if candidates else None


def rotations_with_people(at):
    """Rotations with members and the overrides still relevant at `at`, in three queries."""
    return Rotation.objects.select_related("role").prefetch_related(
        Prefetch("members", queryset=RotationMember.objects.select_related("user")),
        Prefetch("overrides", queryset=RotationOverride.objects.filter(ends_at__gt=at).select_related("user")),
    )


def who_holds(role, at=None):
    """The user holding `role` (a ResponseRole or its slug) at `at`, or None."""
    at = at or timezone.now()
    slug = role.slug if isinstance(role, ResponseRole) else role
    rotation = rotations_with_people(at).filter(role__slug=slug).first()
    return Schedule(rotation).holder(at) if rotation else None


def on_call_board(at=None):
    """[(role, shift or None, next_user, next_from)] for every role, for the on-call page."""
    at = at or timezone.now()
    schedules = {r.role_id: Schedule(r) for r in rotations_with_people(at)}
    rows = []
    for role in ResponseRole.objects.all():
        schedule = schedules.get(role.pk)
        if schedule is None:
            rows.append((role, None, None, None, None))
            continue
        next_user, next_from = schedule.next_change(at)
        rows.append((role, schedule.rotation, schedule.shift(at), next_user, next_from))
    return rows
