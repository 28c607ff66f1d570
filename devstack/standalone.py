"""The standalone command: everything on embedded defaults in one terminal.
A private PostgreSQL cluster and Redis in a data directory, the web server, a
Celery worker and beat; Ctrl-C stops them all. Its data survives restarts."""
import argparse
import fcntl
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack import provision, services

DEFAULT_DATA = provision.REPO / ".data"
# Earlier versions kept the standalone's data in SQLite; --import-sqlite moves it.
SQLITE_FILE = "db.sqlite3"
# What manage.py reads in a standalone checkout when the environment names no database
# (ops_console/settings.py): the addresses and secrets of the console running on this directory.
STANDALONE_SETTINGS = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "OPS_CONSOLE_HTTPS", "OPS_CONSOLE_BASE_URL",
                       "ALLOWED_HOSTS", "STATIC_ROOT", "PROMETHEUS_URL", "ALERTMANAGER_URL", "OPS_CONSOLE_DATA_DIR")


def parse(argv):
    parser = argparse.ArgumentParser(prog="python3 -m devstack run")
    parser.add_argument("--port", type=int, default=int(os.environ.get("OPS_CONSOLE_PORT", 8000)))
    parser.add_argument("--data-dir", default=os.environ.get("OPS_CONSOLE_DATA_DIR", str(DEFAULT_DATA)))
    parser.add_argument("--redis-port", type=int, default=int(os.environ.get("OPS_CONSOLE_REDIS_PORT", 16379)))
    parser.add_argument("--postgres-port", type=int, default=int(os.environ.get("OPS_CONSOLE_POSTGRES_PORT", 15432)))
    parser.add_argument("--prometheus-port", type=int, default=int(os.environ.get("OPS_CONSOLE_PROMETHEUS_PORT", 19090)))
    parser.add_argument("--alertmanager-port", type=int,
                        default=int(os.environ.get("OPS_CONSOLE_ALERTMANAGER_PORT", 19093)))
    parser.add_argument("--no-demo", action="store_true",
                        help="only what production has too (bootstrap): no demo data and no demo run")
    parser.add_argument("--import-sqlite", action="store_true",
                        help=f"move the data of an earlier standalone ({SQLITE_FILE} in the data directory) "
                             "into its PostgreSQL cluster, then run")
    parser.add_argument("--no-provision", action="store_true", help="skip apt and pip (for tests)")
    return parser.parse_args(argv)


def take_lock(data_dir):
    """One console per data directory: its PostgreSQL cluster and Redis files are not shareable."""
    lock_file = open(data_dir / "standalone.lock", "a+")  # noqa: SIM115 - held for the process lifetime
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.seek(0)
        owner = lock_file.read().strip() or "unknown"
        sys.exit(f"[ops-console] another Ops Console is already running on {data_dir} (pid {owner}); "
                 "stop it first or pass --data-dir")
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(str(os.getpid()))
    lock_file.flush()
    return lock_file


def manage(python, env, *args, capture=False):
    return subprocess.run([str(python), "manage.py", *args], cwd=provision.REPO, env=env, check=True,
                          capture_output=capture, text=True)


class Stop(Exception):
    pass


def main(argv):
    args = parse(argv)
    data_dir = Path(args.data_dir).resolve()
    sqlite_file = data_dir / SQLITE_FILE
    if sqlite_file.exists() and not args.import_sqlite:
        sys.exit(f"[ops-console] {sqlite_file} holds the data of an earlier standalone console, which ran on "
                 "SQLite; it runs on PostgreSQL now. Move the data into its PostgreSQL cluster (once) with:\n"
                 f"    python3 -m devstack run --import-sqlite --data-dir {data_dir}")
    if not args.no_provision:
        provision.ensure_apt(provision.STANDALONE_PACKAGES)
        python = provision.ensure_venv()
    else:
        python = provision.venv_python()
    data_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_provision:
        provision.ensure_step_user(os.environ.get("RUNBOOK_STEP_USER", "opsrunner"))
    lock = take_lock(data_dir)  # noqa: F841 - held until exit
    # Runbook steps run as the step user, who must not read the data directory (the secret
    # key, the database, tokens); PostgreSQL's own user is let through when it starts. After
    # the lock: a second copy must not change the running one's directory.
    data_dir.chmod(0o700)
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)

    base_url = f"http://127.0.0.1:{args.port}"
    postgres = services.Postgres(args.postgres_port, data_dir / "postgres", durable=True)
    # The broker's password: runbook steps run on this machine and must not reach it.
    redis_password = services.kept_secret(data_dir / "redis_password")
    # The audit chain key (AUDIT_CHAIN_KEY_FILE's default), made before web, worker and beat all read it.
    services.kept_secret(data_dir / "audit_chain_key", 32)
    env = dict(
        os.environ,
        DATABASE_URL=postgres.url,
        REDIS_URL=f"redis://:{redis_password}@127.0.0.1:{args.redis_port}/0",
        SECRET_KEY=services.kept_secret(data_dir / "secret_key", 50),
        OPS_CONSOLE_HTTPS="false",
        OPS_CONSOLE_BASE_URL=base_url,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        STATIC_ROOT=str(data_dir / "static"),
        PROMETHEUS_URL=f"http://127.0.0.1:{args.prometheus_port}",
        ALERTMANAGER_URL=f"http://127.0.0.1:{args.alertmanager_port}",
        OPS_CONSOLE_DATA_DIR=str(data_dir),
    )
    write_settings(data_dir / "env", env)
    children, supervisor = [], None
    guardian = services.guard()  # killed outright, we leave no console or cluster running unowned

    def on_signal(signum, frame):
        raise Stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        provision.say(f"starting PostgreSQL on 127.0.0.1:{args.postgres_port} (data in {postgres.dir})")
        try:
            postgres.start()
        except RuntimeError as exc:
            provision.say(str(exc))
            return 1
        redis = services.Redis(args.redis_port, data_dir / "redis", persist=True,
                               password=redis_password).start()
        children.append(redis.process)
        # Before bootstrap: hooks put settings into env that it reads (the Alertmanager token).
        for hook in STACK_HOOKS:
            children.extend(hook(args, data_dir, env))
        provision.say("migrating the database")
        manage(python, env, "migrate", "--noinput", "-v", "0")
        if sqlite_file.exists():
            try:
                import_sqlite(python, env, sqlite_file)
            except subprocess.CalledProcessError as exc:
                provision.say(f"importing {sqlite_file} failed (manage.py {exc.cmd[2]}: see above); nothing "
                              "was loaded into PostgreSQL and the file is still there: run the same command again "
                              "once the cause is fixed")
                return 1
        elif args.import_sqlite:
            provision.say(f"nothing to import: there is no {sqlite_file}")
        manage(python, env, "collectstatic", "--noinput", "-v", "0")
        # What production has too (roles, severities, matrix, routing, the runbook library, the
        # token of the local Alertmanager); creates the admin only once.
        setup = manage(python, env, "bootstrap", "--create-admin", "--alertmanager-token", capture=True).stdout
        if not args.no_demo:
            setup += manage(python, env, "load_demo", capture=True).stdout
        venv_bin = python.parent
        # gunicorn runs several worker processes: prometheus_client's multiprocess
        # mode adds their counters up, so /metrics does not jump between workers.
        metrics_dir = data_dir / "metrics"
        services.remove_tree(metrics_dir)
        metrics_dir.mkdir()
        # Threads: an alert flood holds at most 3 (OPS_CONSOLE_API_MAX_INFLIGHT), open run pages' output
        # streams at most 2 (RUNBOOK_STREAMS_PER_PROCESS): one always serves the board.
        web_env = dict(env, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), OPS_CONSOLE_API_MAX_INFLIGHT="3")
        services_end = len(children)
        children.append(services.Process(
            "web", [str(venv_bin / "gunicorn"), "ops_console.wsgi", "--bind", f"127.0.0.1:{args.port}",
                    "--workers", "2", "--threads", "6", "--timeout", "60",
                    "--access-logfile", str(logs / "access.log")],
            env=web_env, cwd=provision.REPO, log=logs / "web.log").start())
        children.append(services.Process(
            "worker", [str(venv_bin / "celery"), "-A", "ops_console", "worker", "-Q", "celery,default",
                       "--concurrency", "2", "-l", "info", "-n", "standalone@%h"],
            env=env, cwd=provision.REPO, log=logs / "worker.log").start())
        # Paging on a worker of its own: a step holding the worker's slots never delays a page.
        children.append(services.Process(
            "paging", [str(venv_bin / "celery"), "-A", "ops_console", "worker", "-Q", "paging",
                       "--concurrency", "2", "-l", "info", "-n", "standalone-paging@%h"],
            env=env, cwd=provision.REPO, log=logs / "paging.log").start())
        children.append(services.Process(
            "beat", [str(venv_bin / "celery"), "-A", "ops_console", "beat", "-l", "info",
                     "-s", str(data_dir / "celerybeat-schedule")],
            env=env, cwd=provision.REPO, log=logs / "beat.log").start())
        services.wait_for(lambda: services.http_ok(f"{base_url}/readyz"), 60, "the web server")
        lines = setup.strip("\n").splitlines()
        login = [line for line in lines if line.strip().startswith("Login:")]
        print("\n".join(line for line in lines if line not in login), flush=True)
        if not args.no_demo:
            # The console checks its own stack with a shipped runbook: a green run to look at.
            # Its PromQL step needs Prometheus's first scrape of itself (up to one interval).
            wait_for_first_scrape(env["PROMETHEUS_URL"])
            demo_run = manage(python, env, "start_demo_run", "--redis-port", str(args.redis_port), capture=True)
            print(demo_run.stdout.rstrip(), flush=True)
        print(f"\n  Ops Console is running at {base_url}/", flush=True)
        print("\n".join(login), flush=True)
        print(f"  Logs: {logs}\n  Press Ctrl-C to stop.\n", flush=True)
        # The console's own processes are started again when they exit (as compose's
        # `restart: unless-stopped` does); the services beneath them stop the standalone.
        console = children[services_end:]
        # Assigned before it starts: a Ctrl-C at any moment from here on reaches `finally`
        # with the supervisor known, and it is stopped before the children are.
        supervisor = services.Supervisor(console, on_restart=lambda child, code: provision.say(
            f"{child.name} exited (code {code}; see {logs}/{child.name}.log); started it again"))
        supervisor.start()
        while True:
            for child in children:
                if child not in console and not child.alive():
                    provision.say(f"{child.name} exited unexpectedly (see {logs}); stopping")
                    return 1
            time.sleep(1)
    except Stop:
        provision.say("stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if supervisor:
            supervisor.stop()
        for child in reversed(children):
            child.stop()
        try:
            postgres.stop()
        except subprocess.CalledProcessError as exc:
            provision.say(f"stopping PostgreSQL failed ({exc}); see {postgres.dir / 'postgres.log'}")
        guardian.done()


def write_settings(path, env):
    """The standalone's settings for manage.py run by hand in this checkout (only its owner reads them)."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("# Written by `python3 -m devstack run`: what manage.py reads when DATABASE_URL is not set.\n"
                    + "".join(f"{key}={env[key]}\n" for key in STANDALONE_SETTINGS))


# Runs inside manage.py shell on the PostgreSQL side: the freshly migrated tables are emptied
# (the defaults that migrate created come back from the dump with their own ids) and the dump
# loaded, in one transaction, so a failure leaves nothing half-imported.
LOAD_DUMP = """
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction

with transaction.atomic():
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables, reset_sequences=True,
                                                              allow_cascade=True))
    call_command("loaddata", {dump!r}, verbosity=0)
"""


def import_sqlite(python, env, sqlite_file):
    """Move an earlier standalone's SQLite data into the (migrated) PostgreSQL database:
    the SQLite file is migrated to this version's schema, dumped with Django's dumpdata,
    and loaded into PostgreSQL; then it is renamed, so this happens once. The migrations
    since the last SQLite version are portable; older ones are PostgreSQL's, so a file
    from before that version stops here with migrate's error (open it with that version
    first)."""
    provision.say(f"importing {sqlite_file} into PostgreSQL")
    sqlite_env = dict(env, DATABASE_URL=f"sqlite:///{sqlite_file}")
    # YAML: Django's JSON serializer cuts times to milliseconds, which would break the audit log's
    # hashes (they cover the exact time); XML cannot carry the control characters of step output.
    dump = sqlite_file.with_name("sqlite-import.yaml")
    try:
        manage(python, sqlite_env, "migrate", "--noinput", "-v", "0")
        manage(python, sqlite_env, "dumpdata", "--format", "yaml", "--output", str(dump), "-v", "0")
        manage(python, env, "shell", "-v", "0", "-c", LOAD_DUMP.format(dump=str(dump)))
    finally:
        dump.unlink(missing_ok=True)
    for suffix in ("", "-wal", "-shm"):
        old = sqlite_file.with_name(sqlite_file.name + suffix)
        if old.exists():
            old.rename(old.with_name(old.name.replace(SQLITE_FILE, SQLITE_FILE + ".imported")))
    provision.say(f"imported; the SQLite file is kept as {sqlite_file.name}.imported")


def wait_for_first_scrape(prometheus_url, timeout=30):
    """Best effort: a slow first scrape only makes the demo run's PromQL step red."""
    import json
    import urllib.parse
    import urllib.request

    query = urllib.parse.quote('up{job="prometheus"}')

    def scraped():
        with urllib.request.urlopen(f"{prometheus_url}/api/v1/query?query={query}", timeout=2) as response:
            return bool(json.load(response)["data"]["result"])

    try:
        services.wait_for(scraped, timeout, "Prometheus's first scrape")
    except TimeoutError as exc:
        provision.say(str(exc))


# Extra services the standalone stack starts: callables (args, data_dir, env) -> [Process].
# The monitoring stack registers Prometheus and Alertmanager here.
STACK_HOOKS = []

# --- monitoring: Prometheus and Alertmanager with deploy/prometheus/ ---------------

MONITORING_CONFIG = provision.REPO / "deploy" / "prometheus"
# Where Alertmanager sends the console's alerts about itself (rules/console_self.yml) unless
# OPS_CONSOLE_SELF_ALERT_WEBHOOK names a receiver outside the console: the discard port, so
# the standalone pages nobody and Alertmanager's log shows each attempt.
CONSOLE_SELF_WEBHOOK_DEFAULT = "http://127.0.0.1:9/console-self-alerts"


def render_monitoring_config(dest, **values):
    """Copy deploy/prometheus/ into dest with the ${name} placeholders of its .yml files
    filled in (safe_substitute: Prometheus's own {{ $value }} stays as it is). Target
    files (targets/*.json) are copied only once: they are the operator's to edit."""
    import string

    dest = Path(dest)
    values.setdefault("console_self_webhook_url", CONSOLE_SELF_WEBHOOK_DEFAULT)
    for source in sorted(MONITORING_CONFIG.rglob("*.yml")) + sorted(MONITORING_CONFIG.rglob("*.json")):
        target = dest / source.relative_to(MONITORING_CONFIG)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".yml":
            target.write_text(string.Template(source.read_text()).safe_substitute(values))
        elif not target.exists():
            target.write_text(source.read_text())
    return dest


def monitoring_stack(args, data_dir, env):
    """Start Prometheus (scraping this console) and Alertmanager (posting to it with
    a bearer token generated once in the data directory; the demo data issues the
    console's API token from OPS_CONSOLE_ALERTMANAGER_TOKEN)."""
    token_file = data_dir / "alertmanager_token"
    if not token_file.exists():
        token_file.write_text(env.get("OPS_CONSOLE_ALERTMANAGER_TOKEN") or secrets.token_urlsafe(32))
        token_file.chmod(0o600)
    env["OPS_CONSOLE_ALERTMANAGER_TOKEN"] = token_file.read_text().strip()
    conf = render_monitoring_config(
        data_dir / "monitoring", config_dir=data_dir / "monitoring", scrape_interval="15s",
        evaluation_interval="30s", console_scheme="http", console_target=f"127.0.0.1:{args.port}",
        prometheus_target=f"127.0.0.1:{args.prometheus_port}",
        alertmanager_target=f"127.0.0.1:{args.alertmanager_port}", base_url=env["OPS_CONSOLE_BASE_URL"],
        console_url=env["OPS_CONSOLE_BASE_URL"], token_file=token_file, group_wait="10s", group_interval="10s",
        console_self_webhook_url=env.get("OPS_CONSOLE_SELF_ALERT_WEBHOOK") or CONSOLE_SELF_WEBHOOK_DEFAULT)
    provision.say(f"starting Prometheus on 127.0.0.1:{args.prometheus_port} and Alertmanager on "
                  f"127.0.0.1:{args.alertmanager_port}")
    prometheus = services.Prometheus(args.prometheus_port, conf / "prometheus.yml", data_dir / "prometheus")
    alertmanager = services.Alertmanager(args.alertmanager_port, conf / "alertmanager.yml", data_dir / "alertmanager")
    try:
        return [alertmanager.start().process, prometheus.start().process]
    except Exception:
        alertmanager.stop()
        prometheus.stop()
        raise


STACK_HOOKS.append(monitoring_stack)
