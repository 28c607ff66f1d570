"""Escalation engine lateness with 10,000 open incidents in PostgreSQL: every
incident's first level falls due at a random moment of a window (a paging
storm), its later levels are pending behind it (40,000 pending rows), and two
engine processes race each other calling `fire_due` on a 2 s tick, offset by
1 s (what beat every 2 s with two workers does when a run outlasts a tick).
Reports the lateness (fired_at - due_at) and checks exactly one page per level.
The full mode then repeats the storm among 100,000 open incidents (90,000 of them due
only hours later): the engine must find what is due without scanning what is not.

    DATABASE_URL=postgres://... python bench/escalation.py [--short] [--open N]
(`python3 -m devstack bench escalation` starts the database for you.)"""
import argparse
import multiprocessing
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
os.environ.setdefault("OPS_CONSOLE_HTTPS", "false")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from ops_console.escalation import engine, matrix  # noqa: E402
from ops_console.escalation.models import (Escalation, Page, ResponseRole, Rotation, RotationMember,  # noqa: E402
                                           ScheduledLevel)
from ops_console.incidents.models import Incident, Severity  # noqa: E402

PREFIX = "bench-escalation"
GOAL = 5.0  # seconds: every due level fires within this of its due time
GOAL_P99_AT_SCALE = 2.0  # seconds: p99 lateness with OPEN_AT_SCALE incidents open
OPEN_AT_SCALE = 100_000
TICK = 2.0


def setup_people():
    matrix.ensure_defaults()
    User = get_user_model()
    for role in ResponseRole.objects.all():
        user, _ = User.objects.get_or_create(username=f"{PREFIX}-{role.slug}",
                                             defaults={"email": f"{role.slug}@bench.invalid"})
        rotation, _ = Rotation.objects.get_or_create(role=role, defaults={"starts_on": date(2020, 1, 6)})
        if not rotation.members.exists():
            RotationMember.objects.create(rotation=rotation, user=user, position=0)


def make_incidents(count, window, lead, quiet=0):
    """`quiet` open P1 incidents whose levels fall due only hours later (open, escalating, not due during
    the run), then `count` whose first level falls due within `window` seconds after `lead` from then."""
    severity = Severity.objects.get(code="P1")
    snapshot = matrix.snapshot(matrix.policy_for("P1"), "P1")
    rng = random.Random(42)
    later = timezone.now() + timedelta(hours=6)
    _create(severity, snapshot, range(count, count + quiet), lambda: later + timedelta(seconds=rng.uniform(0, 3600)))
    start = timezone.now() + timedelta(seconds=lead)
    _create(severity, snapshot, range(count), lambda: start + timedelta(seconds=rng.uniform(0, window)))
    # Fresh statistics, as autovacuum keeps them on a live table: without them the planner
    # reads 100,000 freshly made rows as an empty table and picks nested loops.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return start


def _create(severity, snapshot, numbers, first_due_at):
    now = timezone.now()
    for chunk in range(numbers.start, numbers.stop, 1000):
        incidents = Incident.objects.bulk_create(
            Incident(title=f"{PREFIX} {n}", severity=severity, source="bench", detected_at=now, created_at=now,
                     updated_at=now) for n in range(chunk, min(numbers.stop, chunk + 1000)))
        Escalation.objects.bulk_create(Escalation(incident=i, severity="P1", snapshot=snapshot, started_at=now)
                                       for i in incidents)
        rows = []
        for incident in incidents:
            first_due = first_due_at()
            for level in snapshot["levels"]:
                rows.append(ScheduledLevel(
                    incident=incident, generation=1, level=level["level"], role_slug=level["role"],
                    role_name=level["role_name"], stop_on=level["stop_on"],
                    due_at=first_due + timedelta(minutes=level["delay_minutes"])))
        ScheduledLevel.objects.bulk_create(rows)


def engine_process(offset, until):
    """Call fire_due on a 2 s tick until `until` (a monotonic deadline)."""
    connection.close()
    time.sleep(offset)
    next_tick = time.monotonic()
    while time.monotonic() < until:
        engine.fire_due()
        next_tick += TICK
        time.sleep(max(0.0, next_tick - time.monotonic()))
    connection.close()


def cleanup():
    Incident.objects.filter(title__startswith=PREFIX).delete()
    get_user_model().objects.filter(username__startswith=PREFIX).delete()


def run(count, window, quiet, short):
    """One storm of `count` due levels among count + quiet open incidents: (exactly once, goal met)."""
    cleanup()
    setup_people()
    # Creating the rows takes a while; nothing falls due before (the quiet ones are made first).
    lead = 3 if short else 30  # creating 1,000 takes about 1 s
    t0 = time.monotonic()
    start = make_incidents(count, window, lead, quiet)
    made = time.monotonic() - t0
    pending = ScheduledLevel.objects.filter(status="pending", incident__title__startswith=PREFIX).count()
    wait = (start - timezone.now()).total_seconds()
    deadline = time.monotonic() + max(0.0, wait) + window + 3 * TICK + GOAL
    connection.close()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=engine_process, args=(offset, deadline)) for offset in (0.0, TICK / 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    fired = ScheduledLevel.objects.filter(incident__title__startswith=PREFIX, status="fired")
    lateness = sorted((row.fired_at - row.due_at).total_seconds() for row in fired.only("fired_at", "due_at"))
    late_due = ScheduledLevel.objects.filter(incident__title__startswith=PREFIX, status="pending",
                                             due_at__lte=timezone.now()).count()
    pages = Page.objects.filter(incident__title__startswith=PREFIX)
    duplicates = pages.values("incident_id", "level").annotate(n=Count("pk")).filter(n__gt=1).count()
    by_engine = len(lateness)
    p99 = lateness[int(0.99 * (by_engine - 1))] if lateness else float("nan")
    correct = by_engine == count and pages.count() == count and duplicates == 0 and late_due == 0
    # At scale the goal is p99 within 2 s (and still every level within 5 s).
    ok = correct and bool(lateness) and lateness[-1] <= GOAL and (not quiet or p99 <= GOAL_P99_AT_SCALE)
    goal = f"every level within {GOAL:.0f} s" + (f", p99 within {GOAL_P99_AT_SCALE:.0f} s" if quiet else "")
    print(f"## escalation{' (short)' if short else ''}{f' at {count + quiet:,} open incidents' if quiet else ''}\n")
    print(f"{count + quiet:,} open P1 incidents ({pending:,} pending levels, made in {made:.1f} s); "
          f"{count:,} of them due now: each first level due "
          f"at a random moment of a {window} s window ({count / window:.0f} levels/s); two engine processes, "
          f"2 s tick each, offset 1 s.\n")
    print("| levels fired | pages | duplicate pages | still due | lateness p50 | p99 | max | goal |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    print(f"| {by_engine:,} | {pages.count():,} | {duplicates} | {late_due} | "
          f"{statistics.median(lateness) if lateness else float('nan'):.2f} s | "
          f"{p99:.2f} s | {lateness[-1] if lateness else float('nan'):.2f} s | {goal}, exactly once: "
          f"{'**met**' if ok else '**NOT met**'} |\n")
    cleanup()
    return correct, ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the lateness goal is missed")
    parser.add_argument("--open", type=int, default=None, metavar="N",
                        help="only the run with N open incidents in all (those beyond the storm's fall due "
                             "hours later); default: the storm alone, then (full mode) 100,000 open")
    args = parser.parse_args()
    count, window = (1_000, 5) if args.short else (10_000, 60)
    sizes = [args.open] if args.open is not None else [count] + ([] if args.short else [OPEN_AT_SCALE])
    results = [run(count, window, max(0, size - count), args.short) for size in sizes]
    correct = all(c for c, _ in results)
    ok = all(o for _, o in results)
    # Exactly once always counts; lateness fails the run only with --strict (a loaded CI
    # machine delays the engine processes, and the table says NOT met either way).
    return 0 if correct and (ok or not args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
