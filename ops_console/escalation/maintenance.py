"""Maintenance windows: which are active, and whether one holds back an
incident's pages (only when every service of the incident is in maintenance:
a page about a service nobody is working on still goes out).

A recurring window (cron set) is in effect during each occurrence of its cron
expression, read in its time zone the way schedules read theirs
(runbooks/schedules.py, cronsim: a fixed time in a skipped hour starts when
the hour is skipped to, one in a repeated hour starts once), for `duration`,
from starts_at until ends_at (or for ever) or until someone stops it."""
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ops_console.audit import log as audit
from ops_console.audit.log import record
from ops_console.runbooks.schedules import cron_error, explain, next_due, zone_error

from .models import MaintenanceWindow

# An occurrence may be at most this long (and a window repeats at most every minute, as cron does).
LONGEST_OCCURRENCE = timedelta(days=7)


class WindowInvalid(Exception):
    """What an admin asked for cannot be saved: {field: message}."""

    def __init__(self, errors):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def occurrence_at(window, at):
    """(start, end) of the occurrence of a recurring window in effect at `at`, or
    None. Occurrences that overlap (duration longer than the interval) give the
    latest one, which ends last."""
    series_end = window.series_end
    if at < window.starts_at or (series_end is not None and at >= series_end):
        return None
    # The occurrences that may cover `at` start in (at - duration, at], and not before starts_at.
    after = max(at - window.duration, window.starts_at - timedelta(microseconds=1))
    start = next_due(window.cron, window.time_zone, after)
    if start > at:
        return None
    while (following := next_due(window.cron, window.time_zone, start)) <= at:
        start = following
    end = start + window.duration
    return start, (min(end, series_end) if series_end is not None else end)


def next_occurrence(window, after):
    """The start of the next occurrence strictly after `after`, or None when the series ends first."""
    start = next_due(window.cron, window.time_zone, max(after, window.starts_at - timedelta(microseconds=1)))
    series_end = window.series_end
    return start if series_end is None or start < series_end else None


def active_windows(services, at=None):
    """The windows active at `at` for these services (objects or ids), soonest ending
    first; a recurring one carries the occurrence it is in (window.occurrence)."""
    at = at or timezone.now()
    ids = [getattr(s, "pk", s) for s in services]
    candidates = (MaintenanceWindow.objects.filter(service_id__in=ids, starts_at__lte=at)
                  .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
                  .filter(Q(ended_early_at__isnull=True) | Q(ended_early_at__gt=at))
                  .select_related("service"))
    active = []
    for window in candidates:
        if window.recurring:
            window.occurrence = occurrence_at(window, at)
            if window.occurrence is None:
                continue
        active.append(window)
    return sorted(active, key=lambda w: w.effective_end)


def holding_window(incident, at, windows=None):
    """The window that holds the incident's pages back at `at` (the one whose
    end releases them first), or None. `windows`: the active windows, when
    the caller loaded them for many incidents at once."""
    services = list(incident.services.all())
    if not services:
        return None
    if windows is None:
        windows = active_windows(services, at)
    wanted = {s.pk for s in services}
    latest = {}
    for window in (w for w in windows if w.service_id in wanted):
        if window.service_id not in latest or window.effective_end > latest[window.service_id].effective_end:
            latest[window.service_id] = window
    if len(latest) < len(services):
        return None
    return min(latest.values(), key=lambda w: w.effective_end)


def describe(window):
    """A recurring window's rule in words: "At 02:00 on Sunday (Europe/Berlin) for 2:00:00"."""
    return f"{explain(window.cron)} ({window.time_zone}) for {window.duration}"


# --- what admins do ---------------------------------------------------------

def _data(window):
    return {"service": window.service.slug, "starts_at": window.starts_at, "ends_at": window.ends_at,
            "cron": window.cron, "duration_minutes": window.duration.total_seconds() / 60,
            "time_zone": window.time_zone, "reason": window.reason}


@audit.atomic
def do_create_recurring_window(*, service, cron, duration, time_zone="UTC", starts_at=None, ends_at=None, reason,
                               acting_user, now=None):
    """A window in effect for `duration` at each occurrence of `cron` in `time_zone`,
    from starts_at (default now) until ends_at (default: until stopped)."""
    cron = " ".join((cron or "").split())
    starts_at = starts_at or now or timezone.now()
    errors = {}
    if (problem := cron_error(cron)) is not None:
        errors["cron"] = problem
    if (problem := zone_error(time_zone)) is not None:
        errors["time_zone"] = problem
    if duration is None or duration <= timedelta(0):
        errors["duration"] = "must be longer than zero"
    elif duration > LONGEST_OCCURRENCE:
        errors["duration"] = "must be at most 7 days"
    if ends_at is not None and ends_at <= starts_at:
        errors["ends_at"] = "the series must end after it starts"
    if not (reason or "").strip():
        errors["reason"] = "say why: a maintenance window needs a reason"
    if errors:
        raise WindowInvalid(errors)
    window = MaintenanceWindow.objects.create(service=service, starts_at=starts_at, ends_at=ends_at, cron=cron,
                                              duration=duration, time_zone=time_zone, reason=reason.strip(),
                                              created_by=acting_user)
    record("maintenance.created", obj=window, actor=acting_user, after=_data(window))
    return window
