"""`python3 -m devstack chaos [--short] [--seed N] [--keep]`: the chaos run.
Starts one PostgreSQL, one Redis, two web nodes, two Celery workers (and two for paging) and two
beats on 127.0.0.1 in a temporary directory; sends seeded Alertmanager
traffic and starts runbook runs; SIGKILLs a worker, a web node mid-request
and a beat, restarts Redis and PostgreSQL while the load flows; lets the
cluster settle and checks the database (chaos_checks.py). Prints a table and
exits 1 on any loss, duplicate, late escalation or slow settling (2 when the
run itself could not go on: no verdict)."""
import argparse
import os
import secrets
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from devstack import chaos_checks, chaos_console, provision, services
from devstack.chaos_cluster import Cluster
from devstack.chaos_traffic import Plan, Receiver, Sender


@dataclass
class Mode:
    alerts: int  # distinct alerts (plus ~20 % repeats and ~50 % resolves)
    runs: int  # runbook runs, started in batches before each fault
    gap: float  # seconds of load between faults
    down: float  # how long a killed worker or beat, or Redis, stays away
    levels: list  # the shortened P1 policy: (role, minutes, stop on, repeat every)


SHORT = Mode(alerts=120, runs=10, gap=6, down=2, levels=[
    ("oncall-sre", 0, "ack", 1), ("senior-sre", 1, "resolve", None)])
FULL = Mode(alerts=1000, runs=30, gap=20, down=6, levels=[
    ("oncall-sre", 0, "ack", 1), ("senior-sre", 1, "resolve", None), ("engineering-manager", 2, "resolve", None)])


class Stop(Exception):
    pass


def say(message):
    provision.say(f"chaos: {message}")


def parse(argv):
    parser = argparse.ArgumentParser(prog="python3 -m devstack chaos")
    parser.add_argument("--short", action="store_true", help="fewer alerts and runs, shorter waits (CI); every fault")
    parser.add_argument("--seed", type=int, default=1, help="the traffic plan's seed (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data) and say where")
    parser.add_argument("--alerts", type=int, help="distinct alerts (default: 120 short, 1000 full)")
    parser.add_argument("--runs", type=int, help="runbook runs (default: 10 short, 30 full)")
    parser.add_argument("--no-provision", action="store_true", help="skip apt and pip (for tests)")
    return parser.parse_args(argv)


def main(argv):
    args = parse(argv)
    mode = SHORT if args.short else FULL
    mode = Mode(args.alerts or mode.alerts, args.runs if args.runs is not None else mode.runs, mode.gap, mode.down,
                mode.levels)
    if args.no_provision:
        python = provision.venv_python()
    else:
        provision.ensure_apt(provision.STANDALONE_PACKAGES)
        python = provision.ensure_venv()
    provision.ensure_step_user(os.environ.get("RUNBOOK_STEP_USER", "opsrunner"))
    workdir = Path(tempfile.mkdtemp(prefix="ops-console-chaos-"))
    # Steps run as the step user in a sandbox: this directory (theirs and ours) holds the marker file.
    shared = Path(tempfile.mkdtemp(prefix="ops-console-chaos-steps-", dir="/var/tmp"))
    shared.chmod(0o1777)
    step_root = Path(tempfile.mkdtemp(prefix="ops-console-chaos-step-dirs-", dir="/var/tmp"))
    # Killed outright (a test's timeout, an OOM), we could not stop the cluster: the guardian does.
    guardian = services.guard()
    for path in (workdir, shared, step_root):
        guardian.remove(path)
    receiver = Receiver()
    cluster = Cluster(workdir, python, shared, step_root, secrets.token_urlsafe(24))

    def on_signal(signum, frame):
        raise Stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return run(args, mode, cluster, receiver, workdir, shared / "marks")
    except Stop:
        say("interrupted; stopping everything")
        return 130
    except (RuntimeError, TimeoutError, subprocess.SubprocessError) as exc:
        say(f"the run could not go on (exit 2: no verdict): {exc}")
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.stop()
        receiver.close()
        services.remove_tree(step_root)
        if args.keep:
            say(f"kept {workdir} (logs in {cluster.logs}) and {shared} (the marker file)")
        else:
            services.remove_tree(workdir)
            services.remove_tree(shared)
        guardian.done()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args, mode, cluster, receiver, workdir, marker):
    timings, began = {}, time.monotonic()
    say(f"{'short' if args.short else 'full'} mode, seed {args.seed}: {mode.alerts} alerts, {mode.runs} runs; "
        f"data in {workdir}")
    cluster.start_services()
    runbooks = workdir / "runbooks"
    runbooks.mkdir()
    (runbooks / f"{chaos_console.RUNBOOK_SLUG}.md").write_text(chaos_console.runbook_text(marker))
    cluster.manage("migrate", "--noinput", "-v", "0")
    cluster.manage("bootstrap", "--runbooks", str(runbooks), "--alertmanager-token")
    cluster.console("setup", {"receiver": receiver.url, "levels": mode.levels})
    cluster.start_all()
    timings["start-up"] = time.monotonic() - began
    say(f"cluster up in {timings['start-up']:.0f} s: web {', '.join(cluster.urls)}")

    sends = Plan(args.seed, mode.alerts).build()
    sender = Sender(cluster.urls, cluster.token, sends)
    faults = fault_list(cluster, sender, mode)
    load_seconds = len(faults) * (mode.gap + 4)
    load_began, load_began_at = time.monotonic(), time.time()
    sender.start(load_seconds)
    batches = split(mode.runs, len(faults))
    started_runs, events, tags = 0, [], iter(f"r{n:03d}" for n in range(10_000))
    for (name, fault), batch in zip(faults, batches):
        time.sleep(mode.gap / 2)  # load flows before the fault, on purpose
        if batch:  # the runs' first steps (4 s long) are running when the fault comes
            started_runs += len(cluster.console("start_runs", {"tags": [next(tags) for _ in range(batch)]})["runs"])
            wait_for_running_step(cluster, timeout=10)
        running = running_steps(cluster)
        at, wall = time.monotonic(), time.time()
        detail = fault() + f"; {running} step(s) running"
        last_fault = time.monotonic()
        events.append((name, at - load_began, last_fault - at, detail, wall))
        say(f"{name}: {detail} ({last_fault - at:.1f} s)")
        if name != faults[-1][0]:
            time.sleep(mode.gap / 2)  # load flows after the fault, on purpose
    sender.done.wait(timeout=max(10.0, load_seconds - (last_fault - load_began)) + 130)
    timings["load and faults"] = time.monotonic() - load_began
    settled, left = wait_settled(cluster, max(last_fault, time.monotonic()))
    timings["settle"] = time.monotonic() - last_fault if settled else None
    say("settled" if settled else f"not settled after {chaos_checks.SETTLE_LIMIT:g} s: {left}")
    # Every level of the policy comes due for the first incidents (and the first repeat) before the checks.
    horizon = load_began + 60 * max(minutes for _, minutes, _, _ in mode.levels) + chaos_checks.OVERDUE_GRACE + 5
    if time.monotonic() < horizon:
        say(f"waiting {horizon - time.monotonic():.0f} s more for the last level of the first incidents to come due")
        time.sleep(horizon - time.monotonic())

    cutoff = quiesce(cluster)
    table = chaos_checks.Table()
    facts = cluster.sql_json(chaos_checks.facts_query(cutoff))
    received = list(receiver.requests)
    chaos_checks.alert_checks(table, facts, sends)
    marks = marker.read_text().splitlines() if marker.exists() else []
    chaos_checks.step_checks(table, facts, marks, started_runs)
    chaos_checks.escalation_checks(table, facts, load_began_at)
    chaos_checks.delivery_checks(table, facts, received, receiver.url)
    for row in (facts.get("unfinished") or [])[:20]:  # what the worker logs should be read for (UTC times)
        say(f"unfinished page delivery: {row}")
    verified = cluster.manage("verify_audit_log", check=False)
    said = (verified.stdout + verified.stderr).strip().splitlines() or [""]
    table.check("audit log verifies", "exit 0", f"exit {verified.returncode}: {said[0][:70]}", verified.returncode == 0)
    crashed = cluster.supervisor.restarted
    table.check("processes that exited on their own (started again)", "reported",
                ", ".join(f"{name} (exit {code})" for name, code, _ in crashed) or "none", None)
    settle = timings["settle"]
    table.check("settle time after the last fault", f"<= {chaos_checks.SETTLE_LIMIT:g} s",
                f"{settle:.1f} s" if settle is not None else f"> {chaos_checks.SETTLE_LIMIT:g} s ({left})",
                settle is not None and settle <= chaos_checks.SETTLE_LIMIT)
    timings["total"] = time.monotonic() - began
    print("\nFaults (seconds after the load began; how long each took; the latest escalation level due from 5 s "
          "before to 15 s after it):", flush=True)
    for name, at, took, detail, wall in events:
        near = [late for due, late in facts["lateness"] or [] if wall - 5 <= due <= wall + took + 15]
        print(f"  {at:6.1f}  {name}: {detail} ({took:.1f} s); levels due then: {len(near)}, "
              f"latest {max(near, default=0):.1f} s")
    for name, code, _ in crashed:
        log = (cluster.logs / f"{name}.log").read_text(errors="replace").splitlines()
        cause = [line for line in log if "Unrecoverable error" in line or "Traceback" in line or "Error" in line]
        print(f"\n{name} exited with code {code}; the last errors in its log:\n  " + "\n  ".join(cause[-8:] or log[-8:]))
    print("\n" + table.render())
    print("\nTimings: " + ", ".join(f"{k} {v:.0f} s" if v is not None else f"{k} -" for k, v in timings.items()))
    failed = table.failed
    print(f"\nchaos run {'FAILED: ' + ', '.join(row[0].strip() for row in failed) if failed else 'passed'}",
          flush=True)
    return 1 if failed else 0


def split(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def running_steps(cluster):
    try:
        return int(cluster.sql("SELECT count(*) FROM runbooks_steprun WHERE status = 'running'")[0][0])
    except subprocess.CalledProcessError:
        return "?"


def wait_for_running_step(cluster, timeout):
    """Best effort: a fault means more while a step runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cluster.sql("SELECT 1 FROM runbooks_steprun WHERE status = 'running' LIMIT 1"):
                return True
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.3)
    return False


def fault_list(cluster, sender, mode):
    def kill_worker():
        rows = cluster.sql("SELECT claimed_by FROM runbooks_steprun WHERE status = 'running' ORDER BY id")
        pids = [int(row[0].rsplit(":", 1)[1]) for row in rows if ":" in row[0]]
        worker = next((w for w in map(cluster.worker_of, pids) if w), cluster.workers[0])
        running = sum(1 for pid in pids if cluster.worker_of(pid) is worker)
        cluster.kill(worker)
        time.sleep(mode.down)  # the worker stays away this long on purpose
        cluster.restart_process(worker)
        return f"{worker.name} killed with {running} of its steps running, back after {mode.down:g} s"

    def kill_web():
        web = cluster.webs[0]
        deadline = time.monotonic() + 5
        while sender.in_flight[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        in_flight = sender.in_flight[0]
        cluster.kill(web)
        cluster.restart_process(web)
        return f"{web.name} killed with {in_flight} request(s) in flight, restarted"

    def restart_redis():
        cluster.restart_redis(mode.down)
        return f"Redis down {mode.down:g} s"

    def kill_beat():
        beat = cluster.beats[0]
        cluster.kill(beat)
        time.sleep(mode.down * 2)  # one beat alone this long on purpose
        cluster.restart_process(beat)
        return f"{beat.name} killed, back after {mode.down * 2:g} s"

    def restart_postgres():
        started = time.monotonic()
        cluster.restart_postgres()
        return f"pg_ctl restart -m fast took {time.monotonic() - started:.1f} s"

    return [("SIGKILL a worker", kill_worker), ("SIGKILL a web node mid-request", kill_web),
            ("restart Redis", restart_redis), ("SIGKILL a beat", kill_beat),
            ("pg_ctl restart -m fast", restart_postgres)]


def quiesce(cluster, timeout=20):
    """Stop the beats, so nothing more comes due, and let what is on its way arrive
    (bounded): the checks then compare a still picture. Returns when the beats stopped."""
    for beat in cluster.beats:
        cluster.supervisor.hold(beat)
        beat.stop()
    cutoff = time.time()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if int(cluster.sql(chaos_checks.IN_FLIGHT)[0][0]) == 0:
                break
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.5)
    return cutoff


def wait_settled(cluster, since):
    """Until nothing is queued, running, overdue or unsent (or the limit passed): (settled, what was left)."""
    left = {}
    while time.monotonic() - since <= chaos_checks.SETTLE_LIMIT:
        try:
            left = cluster.sql_json(chaos_checks.UNSETTLED)
        except subprocess.CalledProcessError as exc:
            left = {"database": (exc.stderr or "").strip()[:80]}
        else:
            if not any(left.values()):
                return True, {}
        time.sleep(1)
    return False, {k: v for k, v in left.items() if v}
