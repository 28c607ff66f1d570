"""The README's first command, run as a person would: it serves the login
page, stops every child on Ctrl-C, keeps its data, and refuses a second copy."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from devstack import services

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


def start(data_dir, port, redis_port, marker):
    env = dict(os.environ, OPS_CONSOLE_TEST_MARKER=marker)
    for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        env.pop(key, None)
    return subprocess.Popen(
        [sys.executable.replace(".venv/bin/python", ".venv/bin/python"), "-m", "devstack", "run", "--no-provision",
         "--port", str(port), "--redis-port", str(redis_port), "--data-dir", str(data_dir),
         "--prometheus-port", str(services.free_port()), "--alertmanager-port", str(services.free_port())],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


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


def wait_for_run(db_path, run_id, timeout=60):
    """The run's final status, read from the standalone console's own SQLite."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        with sqlite3.connect(db_path, timeout=10) as db:
            row = db.execute("SELECT status FROM runbooks_run WHERE id = ?", (run_id,)).fetchone()
        status = row[0] if row else None
        if status in ("succeeded", "failed", "cancelled"):
            return status
        time.sleep(0.5)
    return status


def step_report(db_path, run_id):
    with sqlite3.connect(db_path, timeout=10) as db:
        rows = db.execute('SELECT "index", kind, status, error, substr(output, 1, 300) FROM runbooks_steprun '
                          "WHERE run_id = ? ORDER BY \"index\"", (run_id,)).fetchall()
    return "\n".join(map(str, rows))


def stop(proc):
    proc.send_signal(signal.SIGINT)
    proc.wait(60)


def test_standalone_serves_stops_cleanly_keeps_data_and_refuses_a_second_copy(tmp_path):
    data_dir, port, redis_port = tmp_path / "data", services.free_port(), services.free_port()
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
        assert wait_for_run(data_dir / "db.sqlite3", run_id) == "succeeded", step_report(data_dir / "db.sqlite3", run_id)

        second = start(data_dir, services.free_port(), services.free_port(), marker + "-2")
        second_out, _ = second.communicate(timeout=60)
        assert second.returncode != 0
        assert "already running" in second_out
    finally:
        stop(proc)
    assert proc.returncode == 0
    time.sleep(0.5)
    assert processes_with(marker) == []

    # Run again on the same data: the data is kept and no admin is re-created.
    proc = start(data_dir, port, redis_port, marker)
    try:
        out = read_until(proc, "Press Ctrl-C")
        assert "Login: admin / " not in out
        assert "existing account" in out
    finally:
        stop(proc)
    assert processes_with(marker) == []
