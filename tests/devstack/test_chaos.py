"""`python3 -m devstack chaos --short` as CI runs it: it starts its cluster, applies
every fault, prints the table, exits with what the table says and leaves no process
or directory behind. The checks themselves are tried on made-up facts, so each can fail."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack import chaos_checks
from devstack.chaos_traffic import Plan, Send
from tests.devstack.test_standalone import processes_with, standalone_env

REPO = Path(__file__).resolve().parents[2]
FAULTS = ("SIGKILL a worker", "SIGKILL a web node mid-request", "restart Redis", "SIGKILL a beat",
          "pg_ctl restart -m fast")
CHECKS = ("alert deliveries answered 2xx", "firing alerts applied exactly once", "resolves applied exactly once",
          "steps ran once, or failed as lost", "due escalation levels fired", "duplicate pages per level",
          "escalation lateness p99", "page deliveries delivered", "pages received twice on one channel",
          "audit log verifies", "settle time after the last fault")


@pytest.mark.integration
def test_the_short_chaos_run_applies_every_fault_prints_the_table_and_exits_as_it_says():
    marker = f"ops-chaos-test-{os.getpid()}-{time.time_ns()}"
    started = time.monotonic()
    run = subprocess.Popen([sys.executable, "-m", "devstack", "chaos", "--short", "--no-provision", "--seed", "7"],
                           cwd=REPO, env=standalone_env(OPS_CONSOLE_TEST_MARKER=marker), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = run.communicate(timeout=270)
    except subprocess.TimeoutExpired:
        # SIGTERM, not the SIGKILL a timeout would send: the run stops its cluster on the way out.
        run.terminate()
        stdout, stderr = run.communicate(timeout=60)
        pytest.fail(f"the short chaos run took over 270 s:\n{stdout}{stderr}")
    result = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    took = time.monotonic() - started
    out = result.stdout + result.stderr
    for fault in FAULTS:
        assert re.search(rf"^\s+[\d.]+\s+{re.escape(fault)}: ", result.stdout, re.M), f"no {fault!r} in:\n{out}"
    table = result.stdout.split("\ncheck ", 1)[1].split("\n\n", 1)[0]
    rows = table.splitlines()[2:]
    for check in CHECKS:
        assert any(check in row for row in rows), f"no row {check!r} in:\n{out}"
    failed = [row for row in rows if row.rstrip().endswith("FAIL")]
    # The exit code is the table's verdict.
    assert result.returncode == (1 if failed else 0), out
    assert ("chaos run passed" in result.stdout) == (not failed)
    # Bounded in time, and nothing left behind: no process, no data directory.
    assert took < 200, f"the short run took {took:.0f} s"
    assert processes_with(marker) == []
    workdir = re.search(r"data in (\S+)", result.stdout).group(1)
    assert not Path(workdir).exists()
    # Loss and duplicates are what the console's fixes for issue 20 must bring to zero; the
    # rows below held on every run so far (the others are reported in the table).
    for check in ("alerts applied twice", "steps that ran twice", "duplicate pages per level"):
        row = next(row for row in rows if check in row)
        assert row.rstrip().endswith("ok"), out


def sent(kind, *fingerprints, status=200, severity="critical"):
    alerts = [{"fingerprint": fp, "labels": {"severity": severity}} for fp in fingerprints]
    return Send(0, alerts, kind, answers=[status], accepted=200 <= status < 300)


def facts(**extra):
    base = {"alerts": {}, "fired_events": {}, "resolved_events": {}, "p1_incidents": 0, "steps": [],
            "levels_fired": 0, "levels_overdue": 0, "levels_fired_by_audit": 0, "lateness": [],
            "fired_without_page": 0, "duplicate_pages": 0, "pages": 0, "deliveries": {}, "delivered_by_address": {}}
    return base | extra


def verdicts(table):
    return {name.strip(): ok for name, _, _, ok in table.rows}


def test_an_accepted_alert_missing_or_applied_twice_fails_its_check():
    table = chaos_checks.Table()
    sends = [sent("firing", "a", "b", "c"), sent("repeat", "a"), sent("resolve", "b")]
    chaos_checks.alert_checks(table, facts(alerts={"a": [1, "firing"], "b": [1, "resolved"]},
                                           fired_events={"a": 2, "b": 1}, resolved_events={"b": 1},
                                           p1_incidents=3), sends)
    ok = verdicts(table)
    assert ok["accepted alerts lost"] == "FAIL" and ok["alerts applied twice"] == "FAIL"
    assert ok["resolves applied exactly once"] == "ok" and ok["P1 incidents opened"] == "ok"

    table = chaos_checks.Table()
    chaos_checks.alert_checks(table, facts(alerts={"a": [1, "firing"]}, fired_events={"a": 1}, p1_incidents=1),
                              [sent("firing", "a")])
    assert not table.failed


def step(tag, index, status, error="", output="step done"):
    return {"run": int(tag[1:]), "tag": tag, "index": index, "status": status, "attempts": 1, "error": error,
            "output": output}


def test_a_step_that_ran_twice_or_never_finished_fails_and_a_lost_one_is_reported():
    steps = [step("r1", 0, "succeeded"), step("r2", 0, "failed", error="worker lost: no heartbeat"),
             step("r3", 0, "succeeded")]
    table = chaos_checks.Table()
    chaos_checks.step_checks(table, facts(steps=steps), ["r1 1", "r2 1", "r3 1"], 3)
    assert not table.failed and verdicts(table)["steps failed as lost (reported)"] == "info"

    table = chaos_checks.Table()
    chaos_checks.step_checks(table, facts(steps=steps + [step("r4", 0, "running")]),
                             ["r1 1", "r2 1", "r3 1", "r3 1", "r4 1"], 4)
    ok = verdicts(table)
    assert ok["steps that ran twice"] == "FAIL" and ok["steps still queued/running"] == "FAIL"


def test_late_levels_and_pages_received_twice_fail_with_the_idempotency_key_counted():
    table = chaos_checks.Table()
    chaos_checks.escalation_checks(table, facts(levels_fired=100, lateness=[[0, 0.5]] * 98 + [[0, 9.0]] * 2), 0)
    assert verdicts(table)["escalation lateness p99 (fired_at - due_at)"] == "FAIL"

    page = {"ack_url": "http://x/ack/1"}
    received = [{"path": "/team", "json": page, "key": "d1"}, {"path": "/team", "json": page, "key": "d1"},
                {"path": "/person/a", "json": page, "key": "d2"}]
    table = chaos_checks.Table()
    chaos_checks.delivery_checks(table, facts(deliveries={"delivered": 2},
                                              delivered_by_address={"json://r/team": 1, "json://r/person/a": 1}),
                                 received, "http://r")
    row = next(r for r in table.rows if "received twice" in r[0])
    assert row[2] == "1 (1 with the same Idempotency-Key)" and row[3] == "FAIL"


def test_the_plan_is_reproducible_from_its_seed_with_repeats_and_resolves():
    first, again = Plan(3, 50).build(), Plan(3, 50).build()
    assert [(s.kind, [a["fingerprint"] for a in s.alerts]) for s in first] == \
        [(s.kind, [a["fingerprint"] for a in s.alerts]) for s in again]
    kinds = [s.kind for s in first]
    assert kinds.count("repeat") == 10 and kinds.count("resolve") == 25
    assert len({a["fingerprint"] for s in first if s.kind == "firing" for a in s.alerts}) == 50
    assert sum(a["labels"]["severity"] == "critical" for s in first if s.kind == "firing" for a in s.alerts) == 25
