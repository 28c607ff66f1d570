"""The benchmark command: start a throwaway PostgreSQL and Redis, run every
benchmark in bench/ (each a script printing a Markdown section), and write one
report with the machine and versions. `--short` is the CI mode."""
import argparse
import datetime
import os
import platform
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

from devstack import provision, services

BENCH = provision.REPO / "bench"


def machine_section(python):
    versions = subprocess.run(
        [str(python), "-c", "import django, celery, psycopg, redis; print(f'Django {django.get_version()}, "
                            "Celery {celery.__version__}, psycopg {psycopg.__version__}, redis-py {redis.__version__}')"],
        capture_output=True, text=True).stdout.strip()
    pg = subprocess.run([str(services.PG_BIN / "postgres"), "--version"], capture_output=True, text=True).stdout.strip()
    rs = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return "\n".join([
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- Machine: {os.cpu_count()} cores ({cpu}), {mem_kb // 1024 // 1024} GiB, {platform.platform()}",
        f"- Python {platform.python_version()}; {versions}",
        f"- {pg}; {rs}",
    ])


def main(argv):
    parser = argparse.ArgumentParser(prog="python3 -m devstack bench")
    parser.add_argument("--short", action="store_true", help="small sizes, for CI")
    parser.add_argument("--output", default=str(BENCH / "reports" / "report.md"))
    parser.add_argument("only", nargs="*", help="benchmark names (default: all)")
    args = parser.parse_args(argv)
    provision.ensure_apt(provision.TEST_PACKAGES)
    python = provision.ensure_venv()
    provision.ensure_step_user(os.environ.get("RUNBOOK_STEP_USER", "opsrunner"))
    scripts = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))
    if args.only:
        scripts = [p for p in scripts if p.stem in args.only]
    workdir = tempfile.mkdtemp(prefix="ops-console-bench-")
    postgres = services.Postgres(services.free_port(), os.path.join(workdir, "postgres"))
    redis = services.Redis(services.free_port(), os.path.join(workdir, "redis"))
    sections, failed = [], []
    try:
        postgres.start()
        redis.start()
        env = dict(os.environ, DATABASE_URL=postgres.url, REDIS_URL=redis.url, SECRET_KEY=secrets.token_urlsafe(50),
                   OPS_CONSOLE_HTTPS="false", PYTHONPATH=str(provision.REPO), BENCH_WORKDIR=workdir)
        # One schema for every benchmark; each cleans up the rows it made.
        subprocess.run([str(python), "manage.py", "migrate", "--noinput", "-v", "0"], cwd=provision.REPO, env=env,
                       check=True)
        for script in scripts:
            # Each benchmark starts with an empty broker: tasks another one queued and left
            # (10,000 pages' deliveries) would otherwise sit ahead of the ones it measures.
            subprocess.run(["redis-cli", "-p", str(redis.port), "flushall"], check=True, capture_output=True)
            provision.say(f"benchmark {script.stem}{' (short)' if args.short else ''}")
            start = time.monotonic()
            result = subprocess.run([str(python), str(script), *(["--short"] if args.short else [])],
                                    cwd=provision.REPO, env=env, capture_output=True, text=True, timeout=1800)
            took = time.monotonic() - start
            if result.returncode != 0:
                failed.append(script.stem)
                sections.append(f"## {script.stem}: FAILED (exit {result.returncode})\n\n```\n"
                                f"{(result.stdout + result.stderr)[-4000:]}\n```\n")
            else:
                output = result.stdout.strip()
                # One level-2 heading per script, so the report has a section for each.
                heading = "" if output.startswith("## ") else f"## {script.stem}\n\n"
                sections.append(heading + output + f"\n\n_({took:.0f} s)_\n")
            print(sections[-1], flush=True)
    finally:
        redis.stop()
        postgres.stop()
        services.remove_tree(workdir)
    report = Path(args.output)
    report.parent.mkdir(parents=True, exist_ok=True)
    mode = "short (CI) mode" if args.short else "full mode"
    report.write_text(f"# Ops Console benchmark report ({mode})\n\n{machine_section(python)}\n\n"
                      "Every ratio compares two measurements taken side by side in the same run.\n\n"
                      + "\n".join(sections))
    provision.say(f"report written to {report}")
    return 1 if failed else 0
