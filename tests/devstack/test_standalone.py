"""The README's first command, run as a person would: it serves the login
page on its own PostgreSQL, stops every child on Ctrl-C, keeps its data, refuses
a second copy, and leaves manage.py working in the checkout as the README writes it."""
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from devstack import services
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def processes_with(marker):
    """Pids whose environment carries the marker (every child inherits it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def standalone_env(**extra):
    """The environment of a person's shell: no database, broker or key of the test runner's."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    return dict(env, **extra)


def start(data_dir, port, redis_port, marker, *options):
    return subprocess.Popen(
        [sys.executable, "-m", "devstack", "run", "--no-provision", *options,
         "--port", str(port), "--redis-port", str(redis_port), "--data-dir", str(data_dir),
         "--postgres-port", str(services.free_port()),
         "--prometheus-port", str(services.free_port()), "--alertmanager-port", str(services.free_port())],
        cwd=REPO, env=standalone_env(OPS_CONSOLE_TEST_MARKER=marker), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def standalone_database(data_dir):
    """The standalone console's own PostgreSQL, found as manage.py finds it: in the data directory."""
    for line in (data_dir / "env").read_text().splitlines():
        if line.startswith("DATABASE_URL="):
            return psycopg.connect(line.split("=", 1)[1], autocommit=True)
    raise AssertionError(f"no DATABASE_URL in {data_dir / 'env'}")


def read_until(proc, text, timeout=120):
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return "".join(lines)
    raise AssertionError(f"never printed {text!r}:\n{''.join(lines)}")


def wait_for_run(data_dir, run_id, timeout=60):
    """The run's final status, read from the standalone console's own PostgreSQL."""
    with standalone_database(data_dir) as db:
        def finished():
            row = db.execute("SELECT status FROM runbooks_run WHERE id = %s", (run_id,)).fetchone()
            return row[0] if row and row[0] in ("succeeded", "failed", "cancelled") else None

        return wait_until(finished, timeout, interval=0.5, message=f"run {run_id} to finish")


def step_report(data_dir, run_id):
    with standalone_database(data_dir) as db:
        rows = db.execute('SELECT "index", kind, status, error, substr(output, 1, 300) FROM runbooks_steprun '
                          'WHERE run_id = %s ORDER BY "index"', (run_id,)).fetchall()
    return "\n".join(map(str, rows))


def stop(proc):
    proc.send_signal(signal.SIGINT)
    proc.wait(60)


@pytest.fixture
def data_dir():
    """A data directory whose parents PostgreSQL's own user may pass (pytest's tmp_path is
    closed to it), as the checkout's .data/ is."""
    parent = Path(tempfile.mkdtemp(prefix="ops-standalone-test-"))
    parent.chmod(0o711)
    yield parent / "data"
    services.remove_tree(parent)


def test_standalone_serves_stops_cleanly_keeps_data_and_refuses_a_second_copy(data_dir):
    port, redis_port = services.free_port(), services.free_port()
    marker = f"ops-standalone-{os.getpid()}-{time.time_ns()}"
    proc = start(data_dir, port, redis_port, marker)
    try:
        out = read_until(proc, "Press Ctrl-C")
        assert "Login: admin / " in out
        assert f"http://127.0.0.1:{port}/" in out
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as r:
            assert r.status == 200 and b'name="password"' in r.read()
        assert len(processes_with(marker)) >= 5  # runner, redis, web, worker, beat (and their children)
        # The console's own health check runbook runs green against its local services.
        assert "Health check run: " in out
        run_id = int(out.split("Health check run: ", 1)[1].split()[0].rstrip("/").rsplit("/", 1)[1])
        assert wait_for_run(data_dir, run_id) == "succeeded", step_report(data_dir, run_id)
        with standalone_database(data_dir) as db:
            assert db.execute("SELECT count(*) FROM incidents_incident WHERE source = 'demo'").fetchone()[0] > 0

        # manage.py as the README writes it, from a shell that sets nothing (the data directory
        # is not the checkout's default here, so it is named).
        created = subprocess.run([sys.executable, "manage.py", "create_user", "x", "--role", "auditor"], cwd=REPO,
                                 env=standalone_env(OPS_CONSOLE_DATA_DIR=str(data_dir)), capture_output=True,
                                 text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        assert "created x (auditor) with password" in created.stdout

        second = start(data_dir, services.free_port(), services.free_port(), marker + "-2")
        second_out, _ = second.communicate(timeout=60)
        assert second.returncode != 0
        assert "already running" in second_out
    finally:
        stop(proc)
    assert proc.returncode == 0
    wait_until(lambda: processes_with(marker) == [], 10, message="every child to exit")

    # Run again on the same data: the data is kept and no admin is re-created.
    proc = start(data_dir, port, redis_port, marker)
    try:
        out = read_until(proc, "Press Ctrl-C")
        assert "Login: admin / " not in out
        assert "existing account" in out
    finally:
        stop(proc)
    assert processes_with(marker) == []


def test_no_demo_serves_only_what_bootstrap_sets_up(data_dir):
    port = services.free_port()
    marker = f"ops-standalone-nodemo-{os.getpid()}-{time.time_ns()}"
    proc = start(data_dir, port, services.free_port(), marker, "--no-demo")
    try:
        out = read_until(proc, "Press Ctrl-C")
        assert "Login: admin / " in out and "Health check run" not in out
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            assert r.status == 200
        with standalone_database(data_dir) as db:
            count = lambda table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
            assert count("incidents_incident") == count("escalation_rotation") == 0
            assert count("auth_user") == 1 and count("incidents_severity") == 4
            assert count("runbooks_runbook") > 10 and count("incidents_apitoken") == 1
    finally:
        stop(proc)
    assert proc.returncode == 0
    assert processes_with(marker) == []


def test_sqlite_data_of_an_earlier_version_is_refused_with_the_command_that_moves_it(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "db.sqlite3").write_bytes(b"")
    result = subprocess.run([sys.executable, "-m", "devstack", "run", "--no-provision", "--data-dir", str(data_dir)],
                            cwd=REPO, env=standalone_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"python3 -m devstack run --import-sqlite --data-dir {data_dir}" in result.stderr
    assert not (data_dir / "postgres").exists()


# The migrations are PostgreSQL's now; an earlier standalone's SQLite file had every
# table of these models, with its migrations recorded as applied. Made the same way here.
EARLIER_SQLITE_SCHEMA = """
from django.apps import apps
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
with connection.schema_editor() as editor:
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            editor.create_model(model)
recorder = MigrationRecorder(connection)
recorder.ensure_schema()
for app, name in MigrationLoader(connection, ignore_no_migrations=True).graph.nodes:
    recorder.record_applied(app, name)
"""


def test_import_sqlite_moves_an_earlier_standalone_into_postgresql(data_dir):
    # An earlier standalone's data directory: its database in db.sqlite3, with demo data and audit entries.
    data_dir.mkdir(parents=True)
    sqlite_env = standalone_env(DATABASE_URL=f"sqlite:///{data_dir / 'db.sqlite3'}", SECRET_KEY="k" * 50,
                                REDIS_URL=os.environ["REDIS_URL"], OPS_CONSOLE_DATA_DIR=str(data_dir))
    # Today's code writes many rows with PostgreSQL's COPY; the earlier version inserted them, as this does.
    load_demo_by_insert = ("from ops_console import database; database.COPY_FROM = 10 ** 9; "
                           "from django.core.management import call_command; call_command('load_demo')")
    for command in (["shell", "-c", EARLIER_SQLITE_SCHEMA], ["bootstrap", "--create-admin"],
                    ["shell", "-c", load_demo_by_insert]):
        done = subprocess.run([sys.executable, "manage.py", *command], cwd=REPO, env=sqlite_env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    marker = f"ops-standalone-import-{os.getpid()}-{time.time_ns()}"
    proc = start(data_dir, services.free_port(), services.free_port(), marker, "--import-sqlite", "--no-demo")
    try:
        out = read_until(proc, "Press Ctrl-C")
        assert "imported; the SQLite file is kept as db.sqlite3.imported" in out
        assert "existing account" in out  # the admin came along
        with standalone_database(data_dir) as db:
            assert db.execute("SELECT count(*) FROM incidents_incident WHERE source = 'demo'").fetchone()[0] == 3
            assert db.execute("SELECT count(*) FROM escalation_rotation").fetchone()[0] == 6
        # The audit log's hashes cover exact times: the move kept every entry as it was.
        verified = subprocess.run([sys.executable, "manage.py", "verify_audit_log"], cwd=REPO, capture_output=True,
                                  env=standalone_env(OPS_CONSOLE_DATA_DIR=str(data_dir)), text=True, timeout=120)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        stop(proc)
    assert not (data_dir / "db.sqlite3").exists() and (data_dir / "db.sqlite3.imported").exists()
    assert processes_with(marker) == []
