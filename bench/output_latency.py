#!/usr/bin/env python3
"""Output to browser: how long a line a shell step prints takes to appear on the
run page, in a real Chromium (Debian's, headless) against gunicorn as the
standalone runs it (2 workers x 4 threads) and real Celery workers. The step
prints a line with its wall-clock time every 100 ms; the page records when each
line appears (a MutationObserver, performance.timeOrigin + now()). Streamed
(server-sent events) and polled (RUNBOOK_LIVE_OUTPUT=false: the run body every
second) are measured in the same run, alternating, against two gunicorns on the
same database. Then a step printing 10 MB in one burst, streamed and polled: how
long it takes on the worker, and when the line printed after it appears.

    .venv/bin/python bench/output_latency.py [--short] [--strict]
(`python3 -m devstack bench output_latency` runs it with the others.)"""
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

GOAL_P95 = 0.5   # seconds
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PASSWORD = "bench-password-123"
RUN_TAG = secrets.token_hex(3)   # names of this run's rows (the database may be shared with other benchmarks)
QUEUES = {"streamed": "bench-live", "polled": "bench-polled"}

# Each line: its number and the wall clock (ms) when the step printed it.
TICKING = "sleep {pause}; for i in $(seq 1 {lines}); do echo \"L$i $(date +%s%3N)\"; sleep 0.1; done"
BURST = ("sleep {pause}; head -c 10000000 /dev/zero | tr '\\0' x | fold -w 99; "
         "for i in 1 2 3 4 5; do echo \"L$i $(date +%s%3N)\"; sleep 0.1; done")

# In the page, from its first script on: every line seen, when it first appeared.
OBSERVER = """
window.__appeared = {};
const look = () => {
  const now = performance.timeOrigin + performance.now();
  document.querySelectorAll('pre.output').forEach(pre => {
    const text = pre.textContent;
    const re = /^L(\\d+) (\\d+)$/gm;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (!(m[1] in window.__appeared)) window.__appeared[m[1]] = [Number(m[2]), now];
    }
  });
};
document.addEventListener('DOMContentLoaded', () => {
  look();
  new MutationObserver(look).observe(document.body, {childList: true, subtree: true, characterData: true});
});
"""


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


def start_worker(workdir, queue, live):
    """A Celery worker on `queue`; live=False: it publishes no live output (the polled path's worker)."""
    from devstack import services

    log = Path(workdir) / f"worker-{queue}.log"
    argv = [sys.executable, "-m", "celery", "-A", "ops_console", "worker", "-Q", queue, "--concurrency", "1",
            "--pool", "prefork", "-n", f"bench-output-{queue}@%h", "-l", "warning", "--without-gossip",
            "--without-mingle", "--without-heartbeat"]
    env = dict(os.environ, RUNBOOK_LIVE_OUTPUT="true" if live else "false")
    worker = services.Process(f"worker-{queue}", argv, env=env, cwd=str(REPO), log=log).start()
    worker.queue = queue
    return worker


def wait_ready(workers, webs):
    """Everything starts at once (it is most of the short mode's time); then wait for each."""
    from devstack import services
    from ops_console.runbooks.tasks import ping

    for worker in workers:
        services.wait_for(lambda: ping.apply_async(queue=worker.queue).get(timeout=2) == "pong", 60,
                          f"the worker on {worker.queue}")
    for web in webs:
        services.wait_for(lambda: services.http_ok(f"{web.url}/readyz"), 60, web.name)


def start_web(workdir, name, live):
    """gunicorn as the standalone runs it; live=False: the page polls as before streaming."""
    from devstack import services

    port = services.free_port()
    env = dict(os.environ, ALLOWED_HOSTS="127.0.0.1,localhost", DB_CONN_MAX_AGE="60",
               RUNBOOK_LIVE_OUTPUT="true" if live else "false")
    argv = [str(Path(sys.executable).parent / "gunicorn"), "ops_console.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", "2", "--threads", "4", "--timeout", "60", "--log-level", "warning"]
    process = services.Process(name, argv, env=env, cwd=str(REPO), log=Path(workdir) / f"{name}.log").start()
    process.url = f"http://127.0.0.1:{port}"
    return process


def make_version(slug, body, queue):
    from ops_console.runbooks.document import RunbookDocument, Step
    from ops_console.runbooks.models import Runbook, RunbookVersion, sha256_of

    slug = f"{slug}-{RUN_TAG}"
    doc = RunbookDocument(slug=slug, title=slug, steps=[Step(index=0, kind="shell", title="print", body=body,
                                                             auto=True, timeout=120, queue=queue)])
    runbook = Runbook.objects.create(slug=slug, title=slug)
    source = f"# {slug}\n"
    version = RunbookVersion.objects.create(runbook=runbook, number=1, source=source, sha256=sha256_of(source),
                                            document=doc.to_json())
    runbook.current_version = version
    runbook.save(update_fields=["current_version"])
    return version


def watch(page, base_url, version, actor):
    """Start a run, open its page at once, wait until it is finished ->
    ({line: (printed ms, appeared ms)}, step seconds on the worker)."""
    from ops_console.runbooks import engine
    from ops_console.runbooks.models import Run

    run = engine.start_run(version, {}, actor=actor)
    page.goto(f"{base_url}/runs/{run.pk}/")
    page.locator("#run-body[data-status=succeeded], #run-body[data-status=failed]").wait_for(timeout=120_000)
    run.refresh_from_db()
    if run.status != Run.SUCCEEDED:
        raise SystemExit(f"benchmark run {run.pk} ended {run.status}: {run.error}")
    step = run.steps.get()
    appeared = {int(k): v for k, v in page.evaluate("() => window.__appeared").items()}
    return appeared, (step.finished_at - step.started_at).total_seconds()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(values):
    return (statistics.median(values), percentile(values, 90), percentile(values, 95), max(values))


def measure(short, workers, webs):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from playwright.sync_api import sync_playwright

    rounds, lines = (1, 5) if short else (4, 50)  # a line a second: short is about checking the path
    user = get_user_model().objects.create_user(f"bench-viewer-{RUN_TAG}", password=PASSWORD)
    user.groups.add(Group.objects.get(name="responder"))
    wait_ready(workers, webs.values())
    latencies = {name: [] for name in webs}
    burst = {}
    # Playwright's sync API runs an event loop in this thread; the ORM calls beside it are synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pages = {}
        for name, web in webs.items():
            context = browser.new_context()
            context.add_init_script(OBSERVER)
            page = context.new_page()
            page.goto(f"{web.url}/accounts/login/")
            page.fill("#id_username", user.username)
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{web.url}/")
            pages[name] = page
        for n in range(rounds):
            for name in (webs if n % 2 == 0 else reversed(list(webs))):
                version = make_version(f"ticking-{name}-{n}", TICKING.format(pause=1, lines=lines), QUEUES[name])
                appeared, _ = watch(pages[name], webs[name].url, version, user)
                if len(appeared) != lines:
                    raise SystemExit(f"{name}: the page showed {len(appeared)} of {lines} lines")
                latencies[name] += [(seen - printed) / 1000 for printed, seen in appeared.values()]
        for name in webs:
            version = make_version(f"burst-{name}", BURST.format(pause=1), QUEUES[name])
            appeared, took = watch(pages[name], webs[name].url, version, user)
            after = [(seen - printed) / 1000 for printed, seen in appeared.values()]
            burst[name] = (took, max(after))
        browser.close()
    return latencies, burst, rounds, lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="fewer and shorter runs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args()
    ensure_venv()
    from devstack import services

    workdir = tempfile.mkdtemp(prefix="bench-output-latency-")
    # Under `python3 -m devstack bench` the database and Redis are there, migrated; alone, start our own.
    shared = bool(os.environ.get("BENCH_WORKDIR") and os.environ.get("DATABASE_URL"))
    own = None if shared else start_services(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
    os.environ.update(OPS_CONSOLE_HTTPS="false", LOG_LEVEL="WARNING")
    workers, webs = [], {}
    try:
        import django
        from django.core.management import call_command

        django.setup()
        if not shared:
            call_command("migrate", verbosity=0)
        workers = [start_worker(workdir, QUEUES["streamed"], True), start_worker(workdir, QUEUES["polled"], False)]
        webs = {"streamed": start_web(workdir, "web-live", True), "polled": start_web(workdir, "web-polled", False)}
        latencies, burst, rounds, lines = measure(args.short, workers, webs)
    finally:
        for process in [*workers, *webs.values()]:
            process.stop()
        for service in own or ():
            service.stop()
        services.remove_tree(workdir)
    streamed = summary(latencies["streamed"])
    ok = streamed[2] <= GOAL_P95
    print("## output_latency\n")
    print(f"A line printed by a shell step until it is on the run page (Chromium's clock), {rounds} runs of "
          f"{lines} lines each way, alternating; two gunicorns 2x4 (streaming on, off) and a Celery worker for each.\n")
    print("| path | lines | median | p90 | p95 | max |")
    print("|---|---|---|---|---|---|")
    for name, values in latencies.items():
        median, p90, p95, top = summary(values)
        print(f"| {name} | {len(values)} | {median:.3f} s | {p90:.3f} s | {p95:.3f} s | {top:.3f} s |")
    print(f"\nGoal: streamed p95 <= {GOAL_P95:g} s: {'ok' if ok else 'MISSED'} "
          f"({streamed[2]:.3f} s; polled {summary(latencies['polled'])[2]:.3f} s in the same run).\n")
    print("A step printing 10 MB in one burst, then 5 timestamped lines (the stream carries 64 KB, then the page "
          "shows the database's head and tail):\n")
    print("| path | step on the worker (publishing: streamed yes, polled no) | slowest line after the burst |")
    print("|---|---|---|")
    for name, (took, after) in burst.items():
        print(f"| {name} | {took:.2f} s | {after:.3f} s |")
    if args.strict and not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
