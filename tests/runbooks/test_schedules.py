"""Recurring runs: due times in a time zone, the claim that fires each
occurrence once however many beats tick, and what a missed one does."""
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection

from ops_console.audit.models import AuditEntry
from ops_console.runbooks import schedules
from ops_console.runbooks.document import Parameter
from ops_console.runbooks.models import Run, Schedule

from .builders import drive, make_doc, make_version, shell, step


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def manual_runbook(slug=None, parameters=()):
    """A runbook whose run waits for a person: firing it dispatches nothing."""
    return make_version(make_doc(step("manual", "look at it"), slug=slug, parameters=list(parameters))).runbook


def make_schedule(owner, *, cron="* * * * *", runbook=None, now, **kw):
    kw.setdefault("name", f"every minute {Schedule.objects.count() + 1}")
    return schedules.do_create_schedule(runbook=runbook or manual_runbook(), cron=cron, acting_user=owner,
                                        now=now, **kw)


# --- time -------------------------------------------------------------------

def test_next_due_in_utc_and_in_a_zone():
    wednesday = at("2026-06-03T12:00:00")
    assert schedules.next_due("0 2 * * 1", "UTC", wednesday) == at("2026-06-08T02:00:00")
    # Mondays 02:00 in Berlin (CEST, UTC+2) is Monday 00:00 UTC.
    assert schedules.next_due("0 2 * * 1", "Europe/Berlin", wednesday) == at("2026-06-08T00:00:00")
    # Strictly after: at the due time itself, the next one.
    assert schedules.next_due("* * * * *", "UTC", at("2026-06-03T12:00:00")) == at("2026-06-03T12:01:00")


def test_next_due_across_daylight_saving_changes():
    # New York springs forward on 2026-03-08: 02:30 does not exist, the run comes at 03:00 EDT.
    assert schedules.next_due("30 2 * * *", "America/New_York", at("2026-03-08T06:00:00")) == \
        at("2026-03-08T07:00:00")
    # The day after, 02:30 EDT again (06:30 UTC, no longer 07:30).
    assert schedules.next_due("30 2 * * *", "America/New_York", at("2026-03-08T07:00:00")) == \
        at("2026-03-09T06:30:00")
    # It falls back on 2026-11-01: 01:30 happens twice and the schedule fires once.
    first = schedules.next_due("30 1 * * *", "America/New_York", at("2026-11-01T04:00:00"))
    assert first == at("2026-11-01T05:30:00")
    assert schedules.next_due("30 1 * * *", "America/New_York", first) == at("2026-11-02T06:30:00")
    # Every 15 minutes keeps its pace through the repeated hour.
    due, seen = at("2026-11-01T05:50:00"), []
    for _ in range(8):
        due = schedules.next_due("*/15 * * * *", "America/New_York", due)
        seen.append(due)
    assert all(b - a == timedelta(minutes=15) for a, b in zip(seen, seen[1:]))


@pytest.mark.parametrize("expr", ["", "* * * *", "0 2 * * 1 2026", "61 * * * *", "0 2 * * funday", "0 0 30 2 *"])
def test_bad_cron_expressions_are_refused(expr):
    assert schedules.cron_error(expr)


def test_time_zones_are_iana_names():
    assert schedules.zone_error("Europe/Berlin") is None and schedules.zone_error("UTC") is None
    for bad in ("", "Mars/Olympus", "../../etc/passwd", "CEST+2"):
        assert schedules.zone_error(bad)


def test_explain_says_it_in_words():
    assert schedules.explain("0 2 * * 1") == "At 02:00 on Monday"


# --- what admins do -----------------------------------------------------------

def test_create_validates_everything_and_audits(db, make_user):
    admin = make_user("admin")
    runbook = manual_runbook(parameters=[Parameter("users", type="int", default=20),
                                         Parameter("target", pattern="^[a-z]+$", required=True),
                                         Parameter("token", type="secret")])
    with pytest.raises(schedules.ScheduleInvalid) as caught:
        schedules.do_create_schedule(name="", runbook=runbook, cron="every monday", time_zone="Moon/Base",
                                     on_missed="whenever", parameters={"users": "many", "token": "s3cret",
                                                                       "nope": "1"}, acting_user=admin)
    errors, parameter_errors = caught.value.errors, caught.value.parameter_errors
    assert set(errors) == {"name", "cron", "time_zone", "on_missed"}
    assert parameter_errors["users"] == "must be a whole number"
    assert parameter_errors["target"] == "is required"
    assert parameter_errors["token"] == "a secret cannot be stored in a schedule"
    assert "unknown parameter" in parameter_errors["nope"]
    assert not Schedule.objects.exists() and not AuditEntry.objects.filter(action__startswith="schedule.").exists()

    now = at("2026-06-03T12:00:10")
    schedule = schedules.do_create_schedule(name="Weekly", runbook=runbook, cron=" 0  2 * * 1 ",
                                            time_zone="Europe/Berlin", parameters={"target": "api", "users": ""},
                                            acting_user=admin, now=now)
    assert schedule.cron == "0 2 * * 1"
    assert schedule.parameters == {"target": "api"}   # users left blank: the runbook's default at run time
    assert schedule.next_due_at == at("2026-06-08T00:00:00")
    entry = AuditEntry.objects.get(action="schedule.created")
    assert entry.actor == admin and entry.after["cron"] == "0 2 * * 1" and entry.object_id == str(schedule.pk)
    with pytest.raises(schedules.ScheduleInvalid) as caught:
        schedules.do_create_schedule(name="Weekly", runbook=runbook, cron="0 2 * * 1", parameters={"target": "x"},
                                     acting_user=admin)
    assert "exists already" in caught.value.errors["name"]


def test_update_enable_disable_delete_are_audited(db, make_user):
    admin = make_user("admin")
    now = at("2026-06-03T12:00:10")
    schedule = make_schedule(admin, now=now, cron="0 2 * * *")
    schedules.do_update_schedule(schedule.pk, name="Nightly", cron="0 3 * * *", time_zone="UTC", parameters={},
                                 on_missed=Schedule.SKIP, acting_user=admin, now=now)
    schedule.refresh_from_db()
    assert schedule.next_due_at == at("2026-06-04T03:00:00") and schedule.on_missed == "skip"
    schedules.do_set_enabled(schedule.pk, False, acting_user=admin, now=now)
    schedule.refresh_from_db()
    assert not schedule.enabled and schedule.next_due_at is None
    # Turned on again later: due from then on, nothing missed while it was off.
    schedules.do_set_enabled(schedule.pk, True, acting_user=admin, now=at("2026-06-10T05:00:00"))
    schedule.refresh_from_db()
    assert schedule.next_due_at == at("2026-06-11T03:00:00")
    schedules.do_delete_schedule(schedule.pk, acting_user=admin)
    assert not Schedule.objects.exists()
    actions = list(AuditEntry.objects.filter(action__startswith="schedule.").order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["schedule.created", "schedule.updated", "schedule.disabled", "schedule.enabled",
                       "schedule.deleted"]
    updated = AuditEntry.objects.get(action="schedule.updated")
    assert updated.before["cron"] == "0 2 * * *" and updated.after["cron"] == "0 3 * * *"


# --- firing -------------------------------------------------------------------

def test_a_due_schedule_starts_one_run_in_its_owners_name(db, make_user):
    admin = make_user("admin")
    runbook = make_version(make_doc(shell('echo "users={{ users }} target={{ target }}"', params=["users", "target"]),
                                    parameters=[Parameter("users", type="int", default=20),
                                                Parameter("target", pattern="^[a-z]+$", shell=True)])).runbook
    schedule = make_schedule(admin, runbook=runbook, now=at("2026-06-03T11:59:30"), parameters={"target": "api"})
    assert schedules.fire_due_schedules(at("2026-06-03T11:59:59")) == {"fired": 0, "skipped": 0, "failed": 0}
    assert schedules.fire_due_schedules(at("2026-06-03T12:00:10")) == {"fired": 1, "skipped": 0, "failed": 0}
    assert schedules.fire_due_schedules(at("2026-06-03T12:00:25")) == {"fired": 0, "skipped": 0, "failed": 0}
    run = Run.objects.get()
    assert run.started_by == admin and run.version == runbook.current_version
    assert run.parameters == {"users": 20, "target": "api"}
    assert run.context["schedule"] == schedule.name and run.context["schedule_id"] == schedule.pk
    assert "late" not in run.context
    # The values reach the step the way a person's run gets them: PARAM_ variables.
    drive(run)
    assert run.steps.get().output == "users=20 target=api\n"
    schedule.refresh_from_db()
    assert schedule.last_run == run and schedule.next_due_at == at("2026-06-03T12:01:00")
    fired = AuditEntry.objects.get(action="schedule.fired")
    assert fired.after["run"] == run.pk and fired.after["due_at"] == "2026-06-03T12:00:00+00:00"
    assert AuditEntry.objects.filter(action="run.started", object_id=str(run.pk), actor=admin).exists()


def test_the_newest_version_runs_and_parameters_are_checked_again(db, make_user):
    admin = make_user("admin")
    runbook = manual_runbook(slug="weekly", parameters=[Parameter("target", pattern="^[a-z]+$")])
    schedule = make_schedule(admin, runbook=runbook, now=at("2026-06-03T11:59:30"), parameters={"target": "api"})
    # A new version renames the parameter: the stored value no longer fits it.
    make_version(make_doc(step("manual", "look"), slug="weekly", parameters=[Parameter("service")]))
    assert schedules.fire_due_schedules(at("2026-06-03T12:00:05"))["failed"] == 1
    assert not Run.objects.exists()
    schedule.refresh_from_db()
    assert "unknown parameter 'target'" in schedule.last_error
    assert schedule.next_due_at == at("2026-06-03T12:01:00")   # the occurrence is spent, no retry loop
    failed = AuditEntry.objects.get(action="schedule.failed")
    assert "parameters do not fit v2" in failed.after["error"]
    # Fixed by the admin: the next occurrence runs version 2.
    schedules.do_update_schedule(schedule.pk, name=schedule.name, cron=schedule.cron, time_zone="UTC",
                                 parameters={"service": "api"}, on_missed=schedule.on_missed, acting_user=admin)
    assert schedules.fire_due_schedules(at("2026-06-03T12:01:05"))["fired"] == 1
    assert Run.objects.get().version.number == 2


def test_an_owner_who_may_no_longer_start_runs_fires_nothing(db, make_user):
    owner = make_user("responder")   # the domain allows any owner with start_run; the pages allow admins
    schedule = make_schedule(owner, now=at("2026-06-03T11:59:30"))
    owner.groups.remove(Group.objects.get(name="responder"))
    assert schedules.fire_due_schedules(at("2026-06-03T12:00:05"))["failed"] == 1
    assert not Run.objects.exists()
    schedule.refresh_from_db()
    assert "may no longer start runs" in schedule.last_error


def test_a_missed_occurrence_runs_once_late_never_a_burst(db, make_user):
    admin = make_user("admin")
    schedule = make_schedule(admin, now=at("2026-06-03T11:59:30"))   # due 12:00 every minute
    # The console was down from 11:59:40 to 12:47:20: 47 occurrences passed.
    assert schedules.fire_due_schedules(at("2026-06-03T12:47:20")) == {"fired": 1, "skipped": 0, "failed": 0}
    run = Run.objects.get()
    assert run.context["late"] == "late by 47 min" and run.context["due_at"] == "2026-06-03T12:00:00+00:00"
    assert AuditEntry.objects.get(action="schedule.fired").after["late"] == "late by 47 min"
    schedule.refresh_from_db()
    assert schedule.next_due_at == at("2026-06-03T12:48:00")
    assert schedules.fire_due_schedules(at("2026-06-03T12:47:35"))["fired"] == 0


def test_a_tick_a_little_late_is_not_missed(db, make_user):
    admin = make_user("admin")
    make_schedule(admin, cron="0 2 * * *", now=at("2026-06-03T01:00:00"), on_missed=Schedule.SKIP)
    assert schedules.fire_due_schedules(at("2026-06-03T02:01:30"))["fired"] == 1   # within the 2 min grace
    assert "late" not in Run.objects.get().context


def test_a_missed_occurrence_is_skipped_when_the_schedule_says_so(db, make_user):
    admin = make_user("admin")
    schedule = make_schedule(admin, cron="0 2 * * 1", now=at("2026-06-01T01:00:00"), on_missed=Schedule.SKIP)
    assert schedules.fire_due_schedules(at("2026-06-01T05:00:00")) == {"fired": 0, "skipped": 1, "failed": 0}
    assert not Run.objects.exists()
    skipped = AuditEntry.objects.get(action="schedule.skipped")
    assert skipped.after["late"] == "late by 180 min" and skipped.after["due_at"] == "2026-06-01T02:00:00+00:00"
    schedule.refresh_from_db()
    assert schedule.next_due_at == at("2026-06-08T02:00:00")
    assert schedule.last_error == "the run due 2026-06-01 02:00 UTC was missed (late by 180 min) and skipped"


def test_disabled_schedules_never_fire(db, make_user):
    admin = make_user("admin")
    schedule = make_schedule(admin, now=at("2026-06-03T11:59:30"), enabled=False)
    assert schedule.next_due_at is None
    assert schedules.fire_due_schedules(at("2026-06-03T12:30:00"))["fired"] == 0


def test_the_beat_task_fires_due_schedules(db, make_user):
    from ops_console.runbooks.tasks import fire_due_schedules

    admin = make_user("admin")
    schedule = make_schedule(admin, now=at("2026-06-03T11:59:30"))
    Schedule.objects.filter(pk=schedule.pk).update(next_due_at=at("2000-01-01T00:00:00"))
    assert fire_due_schedules.apply().get()["fired"] == 1


# --- two beat processes and a restart ---------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_every_minute_fires_exactly_once_per_minute_across_two_beats_and_a_restart(make_user):
    """Two beat processes tick every 15 s at the same instants, each with its own
    database connection; the console is down from 12:04:00 to 12:07:10. Every
    minute before and after fires once; the minutes of the outage make one late run."""
    admin = make_user("admin")
    schedule = make_schedule(admin, now=at("2026-06-03T12:00:30"))
    start, ticks = at("2026-06-03T12:01:00"), []
    for n in range(10 * 4):   # 12:01:00 to 12:10:45
        tick = start + timedelta(seconds=15 * n)
        if not at("2026-06-03T12:04:00") <= tick < at("2026-06-03T12:07:10"):
            ticks.append(tick)
    ticks.insert(ticks.index(at("2026-06-03T12:07:15")), at("2026-06-03T12:07:11"))   # the restart's first tick
    barrier, totals, failures = threading.Barrier(2), [], []

    def beat():
        fired = 0
        try:
            for tick in ticks:
                barrier.wait(30)
                fired += schedules.fire_due_schedules(tick)["fired"]
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
            barrier.abort()
        finally:
            totals.append(fired)
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    runs = list(Run.objects.order_by("id"))
    due = [run.context["due_at"][11:16] for run in runs]
    assert due == ["12:01", "12:02", "12:03", "12:04", "12:08", "12:09", "12:10"], due
    assert [run.context.get("late") for run in runs] == [None, None, None, "late by 3 min", None, None, None]
    assert sum(totals) == len(runs) == AuditEntry.objects.filter(action="schedule.fired").count()
    schedule.refresh_from_db()
    assert schedule.next_due_at == at("2026-06-03T12:11:00")


# --- the shipped examples -----------------------------------------------------------

def test_load_schedules_adds_the_examples_turned_off_once(db, make_user, tmp_path):
    manual_runbook(slug="gameday-resilience-suite", parameters=[Parameter("duration", type="int", default=60),
                                                                Parameter("users", type="int", default=5)])
    path = tmp_path / "schedules.yaml"
    path.write_text("- name: Weekly chaos suite\n  runbook: gameday-resilience-suite\n  cron: '0 2 * * 1'\n"
                    "  time_zone: UTC\n  on_missed: skip\n  parameters: {duration: 600, users: 20}\n")
    call_command("load_schedules", str(path))
    schedule = Schedule.objects.get()
    assert not schedule.enabled and schedule.next_due_at is None and schedule.created_by is None
    assert schedule.parameters == {"duration": 600, "users": 20} and schedule.on_missed == "skip"
    schedule.cron = "0 3 * * 1"
    schedule.save()
    call_command("load_schedules", str(path))   # an admin's change is kept
    assert Schedule.objects.get().cron == "0 3 * * 1"
    # Turned on by an admin: runs start in that admin's name.
    admin = make_user("admin")
    schedules.do_set_enabled(schedule.pk, True, acting_user=admin)
    assert Schedule.objects.get().created_by == admin


def test_the_shipped_example_file_loads_against_the_library(db):
    call_command("sync_runbooks", "runbooks/")
    call_command("load_schedules")
    names = set(Schedule.objects.values_list("name", flat=True))
    assert "Weekly chaos suite" in names
    weekly = Schedule.objects.get(name="Weekly chaos suite")
    assert weekly.cron == "0 2 * * 1" and weekly.runbook.slug == "gameday-resilience-suite"
    assert not Schedule.objects.filter(enabled=True).exists()
