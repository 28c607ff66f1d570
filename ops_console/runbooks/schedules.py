"""Recurring runs. A Schedule's next occurrence is a row (next_due_at, UTC);
fire_due_schedules() claims each due row with a conditional UPDATE and starts
its run in the same transaction, so any number of beat processes, and a
restart after downtime, start each occurrence once and never a burst."""
from datetime import UTC, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from cronsim import CronSim, CronSimError
from django.db import transaction
from django.utils import timezone

from ops_console.audit.log import record

from . import engine, params
from .models import Runbook, Schedule

# An occurrence found more than this past its due time, or with a later
# occurrence also past, was missed (the console was down): on_missed decides.
GRACE = timedelta(minutes=2)
# How many schedules one tick fires; the rest are due on the next tick.
BATCH = 100


class ScheduleInvalid(Exception):
    """What an admin asked for cannot be saved: {field: message} and {parameter: message}."""

    def __init__(self, errors, parameter_errors=None):
        self.errors, self.parameter_errors = dict(errors), dict(parameter_errors or {})
        super().__init__("; ".join(f"{k}: {v}" for k, v in {**self.errors, **self.parameter_errors}.items()))


# --- time -------------------------------------------------------------------

@lru_cache(maxsize=1)
def time_zones():
    return frozenset(available_timezones())


def zone_error(name):
    """None, or why `name` is not an IANA time zone."""
    if not name:
        return "is required (an IANA name such as UTC or Europe/Berlin)"
    if name not in time_zones():
        return f"{name!r} is not an IANA time zone name (such as UTC, Europe/Berlin, America/New_York)"
    return None


def cron_error(expr):
    """None, or why `expr` is not a five-field cron expression that ever fires."""
    fields = (expr or "").split()
    if len(fields) != 5:
        return (f"needs five fields (minute hour day-of-month month day-of-week), it has {len(fields)}; "
                "for example 0 2 * * 1 is Mondays at 02:00")
    try:
        next(CronSim(expr, timezone.now()))
    except CronSimError as exc:
        return f"is not a valid cron expression: {exc}"
    except StopIteration:
        return "never fires (no date matches it)"
    return None


def next_due(expr, tz, after):
    """The first occurrence of `expr`, read in time zone `tz`, strictly after the
    aware datetime `after`, in UTC. cronsim handles DST the way Debian cron does:
    a fixed time in a skipped hour runs when the hour is skipped to, one in a
    repeated hour runs once; "every N minutes" keeps running through both."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    for occurrence in CronSim(expr, after.astimezone(zone)):
        due = occurrence.astimezone(UTC)
        if due > after:
            return due
    raise ValueError(f"{expr!r} never fires")  # pragma: no cover - cron_error refuses these


def explain(expr):
    """The expression in words when cronsim can say it, else the expression."""
    try:
        return CronSim(expr, timezone.now()).explain()
    except Exception:  # noqa: BLE001 - explain() is a nicety: any failure shows the raw text
        return expr


# --- what admins do ---------------------------------------------------------

def _check(*, name, runbook, cron, time_zone, on_missed, parameters, exclude_pk=None):
    """-> typed parameter values to store, or ScheduleInvalid with every problem at once."""
    errors, parameter_errors = {}, {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "is required"
    elif len(name) > 200:
        errors["name"] = "must be at most 200 characters"
    elif Schedule.objects.filter(name=name).exclude(pk=exclude_pk).exists():
        errors["name"] = f"a schedule named {name!r} exists already"
    if (problem := cron_error(cron)) is not None:
        errors["cron"] = problem
    if (problem := zone_error(time_zone)) is not None:
        errors["time_zone"] = problem
    if on_missed not in dict(Schedule.ON_MISSED):
        errors["on_missed"] = f"must be one of: {', '.join(dict(Schedule.ON_MISSED))}"
    stored = {}
    if runbook is None or runbook.archived or runbook.current_version is None:
        errors["runbook"] = "pick a runbook that is not archived and has a version"
    else:
        stored, parameter_errors = _check_parameters(runbook, parameters)
    if errors or parameter_errors:
        raise ScheduleInvalid(errors, parameter_errors)
    return name, stored


def _check_parameters(runbook, parameters):
    """({name: typed value} of the values given, {name: message}). Blank values
    are left out, so each run takes the runbook's default current at the time."""
    declared = runbook.current_version.parsed().parameters
    given = {name: value for name, value in (parameters or {}).items()
             if value is not None and not (isinstance(value, str) and value.strip() == "")}
    errors = {}
    for p in declared:
        if p.type == "secret" and p.name in given:
            # A schedule row is not a vault: a run asks for a secret when a person starts it.
            errors[p.name] = "a secret cannot be stored in a schedule"
    values, problems = params.validate(declared, given)
    errors = {**problems, **errors}
    return {name: values[name] for name in given if name in values}, errors


def _snapshot(schedule):
    return {"name": schedule.name, "runbook": schedule.runbook.slug, "cron": schedule.cron,
            "time_zone": schedule.time_zone, "parameters": schedule.parameters, "enabled": schedule.enabled,
            "on_missed": schedule.on_missed,
            "next_due_at": schedule.next_due_at.isoformat() if schedule.next_due_at else None}


def do_create_schedule(*, name, runbook, cron, time_zone="UTC", parameters=None, enabled=True,
                       on_missed=Schedule.RUN_ONCE_LATE, acting_user, now=None):
    cron = " ".join((cron or "").split())
    name, stored = _check(name=name, runbook=runbook, cron=cron, time_zone=time_zone, on_missed=on_missed,
                          parameters=parameters)
    now = now or timezone.now()
    with transaction.atomic():
        schedule = Schedule.objects.create(
            name=name, runbook=runbook, cron=cron, time_zone=time_zone, parameters=stored, enabled=enabled,
            on_missed=on_missed, next_due_at=next_due(cron, time_zone, now) if enabled else None,
            created_by=acting_user)
        record("schedule.created", obj=schedule, actor=acting_user, after=_snapshot(schedule))
    return schedule


def _locked(schedule_id):
    # of=self: current_version is a nullable join, which FOR UPDATE cannot lock (nor needs to).
    return Schedule.objects.select_for_update(of=("self",)).select_related("runbook__current_version").get(
        pk=schedule_id)


def do_update_schedule(schedule_id, *, name, cron, time_zone, parameters, on_missed, acting_user, now=None):
    """Change a schedule (not its runbook: a schedule of another runbook is a new one)."""
    cron = " ".join((cron or "").split())
    now = now or timezone.now()
    with transaction.atomic():
        schedule = _locked(schedule_id)
        name, stored = _check(name=name, runbook=schedule.runbook, cron=cron, time_zone=time_zone,
                              on_missed=on_missed, parameters=parameters, exclude_pk=schedule.pk)
        before = _snapshot(schedule)
        timing_changed = (cron, time_zone) != (schedule.cron, schedule.time_zone)
        schedule.name, schedule.cron, schedule.time_zone = name, cron, time_zone
        schedule.parameters, schedule.on_missed = stored, on_missed
        if schedule.enabled and timing_changed:
            schedule.next_due_at = next_due(cron, time_zone, now)
        schedule.created_by = schedule.created_by or acting_user
        schedule.save(update_fields=["name", "cron", "time_zone", "parameters", "on_missed", "next_due_at",
                                     "created_by", "updated_at"])
        record("schedule.updated", obj=schedule, actor=acting_user, before=before, after=_snapshot(schedule))
    return schedule


def do_set_enabled(schedule_id, enabled, *, acting_user, now=None):
    """Turn a schedule on (due from now: nothing missed while it was off runs)
    or off. An admin turning on a shipped example becomes the one runs start for."""
    now = now or timezone.now()
    with transaction.atomic():
        schedule = _locked(schedule_id)
        if schedule.enabled == enabled:
            return schedule
        before = _snapshot(schedule)
        schedule.enabled = enabled
        schedule.next_due_at = next_due(schedule.cron, schedule.time_zone, now) if enabled else None
        schedule.created_by = schedule.created_by or acting_user
        if enabled:
            schedule.last_error = ""
        schedule.save(update_fields=["enabled", "next_due_at", "created_by", "last_error", "updated_at"])
        record("schedule.enabled" if enabled else "schedule.disabled", obj=schedule, actor=acting_user,
               before=before, after=_snapshot(schedule))
    return schedule


def do_delete_schedule(schedule_id, *, acting_user):
    with transaction.atomic():
        schedule = _locked(schedule_id)
        before = _snapshot(schedule)
        record("schedule.deleted", obj=schedule, actor=acting_user, before=before)
        schedule.delete()


# --- the beat's part ----------------------------------------------------------

def missed(schedule, now):
    """Was the occurrence due at schedule.next_due_at missed (not merely a tick late)?"""
    due = schedule.next_due_at
    return now - due > GRACE or next_due(schedule.cron, schedule.time_zone, due) <= now


def fire_due_schedules(now=None):
    """Start a run for every enabled schedule that is due. Each row is claimed by
    moving next_due_at from the value read to the next occurrence after now; only
    the process whose UPDATE matched starts the run, in the claim's transaction,
    so a failed start un-claims it. Returns {"fired": n, "skipped": n, "failed": n}."""
    now = now or timezone.now()
    counts = {"fired": 0, "skipped": 0, "failed": 0}
    due = Schedule.objects.filter(enabled=True, next_due_at__lte=now).order_by("next_due_at")[:BATCH]
    for schedule_id, due_at in due.values_list("pk", "next_due_at"):
        with transaction.atomic():
            schedule = Schedule.objects.select_related("runbook", "created_by").filter(pk=schedule_id).first()
            if schedule is None:
                continue  # deleted meanwhile
            following = next_due(schedule.cron, schedule.time_zone, now)
            claimed = Schedule.objects.filter(pk=schedule_id, enabled=True, next_due_at=due_at).update(
                next_due_at=following, last_fired_at=now)
            if not claimed:
                continue  # another beat process, or an admin, changed it first
            schedule.next_due_at, schedule.last_fired_at = due_at, now
            counts[_fire(schedule, due_at, now)] += 1
    return counts


def _fire(schedule, due_at, now):
    late_by = max(0, int((now - due_at).total_seconds() // 60))
    occurrence = {"schedule": schedule.name, "due_at": due_at.isoformat(), "runbook": schedule.runbook.slug}
    if missed(schedule, now):
        occurrence["late"] = f"late by {late_by} min"
        if schedule.on_missed == Schedule.SKIP:
            Schedule.objects.filter(pk=schedule.pk).update(
                last_error=f"the run due {due_at:%Y-%m-%d %H:%M} UTC was missed ({occurrence['late']}) and skipped")
            record("schedule.skipped", obj=schedule, after={**occurrence, "reason": "missed (on_missed: skip)"})
            return "skipped"
    problem, version, values = _refusal(schedule)
    if problem:
        Schedule.objects.filter(pk=schedule.pk).update(last_error=problem)
        record("schedule.failed", obj=schedule, after={**occurrence, "error": problem})
        return "failed"
    context = {"schedule": schedule.name, "schedule_id": schedule.pk, "due_at": due_at.isoformat()}
    if "late" in occurrence:
        context["late"] = occurrence["late"]
    try:
        with transaction.atomic():  # a savepoint: a start that breaks keeps the claim, so no retry loop
            # The same door a person uses: start_run with validated values, in the owner's name.
            run = engine.start_run(version, values, actor=schedule.created_by, context=context)
    except Exception as exc:  # noqa: BLE001 - recorded on the schedule and in the audit log
        problem = f"the run could not start: {type(exc).__name__}: {exc}"
        Schedule.objects.filter(pk=schedule.pk).update(last_error=problem[:2000])
        record("schedule.failed", obj=schedule, after={**occurrence, "error": problem[:2000]})
        return "failed"
    Schedule.objects.filter(pk=schedule.pk).update(last_run=run, last_error="")
    record("schedule.fired", obj=schedule, after={**occurrence, "run": run.pk, "version": version.number,
                                                  "owner": schedule.created_by.get_username()})
    return "fired"


def _refusal(schedule):
    """(why no run starts, None, None) or ("", version, values): the checks a
    person's start goes through, made again now, since the runbook and the
    creator's role may have changed since the schedule was saved."""
    owner, runbook = schedule.created_by, schedule.runbook
    if owner is None or not owner.is_active:
        return "the schedule has no active owner: an admin must save or re-enable it", None, None
    if not owner.has_perm("runbooks.start_run"):
        return f"{owner.get_username()} may no longer start runs", None, None
    runbook = Runbook.objects.select_related("current_version").get(pk=runbook.pk)
    if runbook.archived or runbook.current_version is None:
        return "the runbook is archived or has no version", None, None
    values, errors = params.validate(runbook.current_version.parsed().parameters, schedule.parameters)
    if errors:
        listed = "; ".join(f"{name}: {message}" for name, message in errors.items())
        return f"parameters do not fit v{runbook.current_version.number}: {listed}", None, None
    return "", runbook.current_version, values
