#!/usr/bin/env python3
"""Runbook engine benchmark, against a real PostgreSQL, Redis and Celery worker
of its own (started with devstack.services, like the test command does):

1. a bare Celery task round trip (send, run, result back): the baseline;
2. the engine's time per automatic step: the marginal cost of one more no-op
   step (claim, record, advance, hand on the next), from runs of 1 and of 20
   no-op steps, as a ratio to the baseline (goal <= 2x); the fixed cost of
   starting and finishing a run (a 1-step run end to end) is printed beside it;
3. a 20-step diagnostic runbook of trivial shell steps end to end (goal < 2 s).

    .venv/bin/python bench/runbook_engine.py [--short] [--strict]

--short runs fewer rounds (for CI); --strict exits 1 when a goal is missed."""
import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
sys.path.insert(0, str(REPO))

GOAL_RATIO = 2.0
GOAL_DIAGNOSTIC_SECONDS = 2.0


def ensure_venv():
    try:
        import django  # noqa: F401
    except ImportError:
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])


def start_services(workdir):
    from devstack import services

    postgres = services.Postgres(services.free_port(), os.path.join(workdir, "postgres")).start()
    redis = services.Redis(services.free_port(), os.path.join(workdir, "redis")).start()
    os.environ.update(DATABASE_URL=postgres.url, REDIS_URL=redis.url, SECRET_KEY=secrets.token_urlsafe(50),
                      OPS_CONSOLE_HTTPS="false", DJANGO_SETTINGS_MODULE="ops_console.settings", LOG_LEVEL="WARNING")
    return postgres, redis


def start_worker(workdir):
    from devstack import services

    log = Path(workdir) / "worker.log"
    argv = [sys.executable, "-m", "celery", "-A", "ops_console", "worker", "-Q", "celery", "--concurrency", "2",
            "--pool", "prefork", "-n", "bench@%h", "-l", "warning", "--without-gossip", "--without-mingle",
            "--without-heartbeat"]
    worker = services.Process("worker", argv, env=dict(os.environ), cwd=str(REPO), log=log).start()
    from ops_console.runbooks.tasks import ping

    services.wait_for(lambda: ping.delay().get(timeout=2) == "pong", 60, "the Celery worker")
    return worker


def runbook(steps, slug):
    from ops_console.runbooks.document import RunbookDocument, Step
    from ops_console.runbooks.models import Runbook, RunbookVersion, sha256_of

    doc = RunbookDocument(slug=slug, title=slug, steps=[Step(index=i, auto=True, **s) for i, s in enumerate(steps)])
    rb = Runbook.objects.create(slug=slug, title=slug)
    source = f"# {slug}\n"
    version = RunbookVersion.objects.create(runbook=rb, number=1, source=source, sha256=sha256_of(source),
                                            document=doc.to_json())
    return version


def time_run(version):
    """Seconds from starting the run to seeing it finished in the database."""
    from ops_console.runbooks import engine
    from ops_console.runbooks.models import Run

    started = time.perf_counter()
    run = engine.start_run(version, {}, actor=None)
    while True:
        status = Run.objects.filter(pk=run.pk).values_list("status", flat=True).get()
        if status in Run.FINISHED:
            break
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    if status != Run.SUCCEEDED:
        raise SystemExit(f"benchmark run {run.pk} ended {status}")
    return elapsed


def bare_round_trip(rounds):
    from ops_console.runbooks.tasks import ping

    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        ping.delay().get(timeout=10)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(short):
    # 15 runs each: with 7, the marginal cost moved by a fifth from one run of the benchmark to the next.
    rounds, runs = (10, 2) if short else (150, 15)
    noop = [{"kind": "wait", "title": f"no-op {i}", "body": "", "hold_for": 0} for i in range(20)]
    trivial = [{"kind": "shell", "title": f"check {i}", "body": "true"} for i in range(20)]
    time_run(runbook(noop[:3], "warm-up"))
    bare_round_trip(5)
    one, twenty = [], []
    for n in range(runs):
        one.append(time_run(runbook(noop[:1], f"noop1-{n}")))
        twenty.append(time_run(runbook(noop, f"noop20-{n}")))
    per_step = (statistics.median(twenty) - statistics.median(one)) / (len(noop) - 1)
    # In one block after the runs, not between them: a round trip right after a run is
    # slower (its worker still busy), which would flatter the ratio.
    bare = bare_round_trip(rounds)
    diagnostic = [time_run(runbook(trivial, f"diagnostic-{n}")) for n in range(runs)]
    return bare, per_step, statistics.median(one), statistics.median(diagnostic)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="fewer rounds")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()
    ensure_venv()
    from devstack import services

    workdir = tempfile.mkdtemp(prefix="bench-runbook-engine-")
    postgres, redis = start_services(workdir)
    worker = None
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        worker = start_worker(workdir)
        bare, per_step, fixed, diagnostic = measure(args.short)
    finally:
        if worker:
            worker.stop()
        redis.stop()
        postgres.stop()
        services.remove_tree(workdir)
    ratio = per_step / bare
    ok_ratio, ok_diag = ratio <= GOAL_RATIO, diagnostic < GOAL_DIAGNOSTIC_SECONDS
    print(f"bare Celery round trip (median):          {bare * 1000:7.1f} ms")
    print(f"a 1-step run end to end (median):         {fixed * 1000:7.1f} ms  (start, dispatch, finish)")
    print(f"engine time per automatic step (marginal):{per_step * 1000:7.1f} ms")
    print(f"ratio step / round trip:                  {ratio:7.2f}x  (goal <= {GOAL_RATIO:g}x) "
          f"{'ok' if ok_ratio else 'MISSED'}")
    print(f"20-step diagnostic runbook end to end:    {diagnostic:7.2f} s   (goal < {GOAL_DIAGNOSTIC_SECONDS:g} s) "
          f"{'ok' if ok_diag else 'MISSED'}")
    if args.strict and not (ok_ratio and ok_diag):
        sys.exit(1)


if __name__ == "__main__":
    main()
