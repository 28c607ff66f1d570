from datetime import timedelta

from ops_console.runbooks.metrics import StepRunCollector

from .builders import drive, shell, start


def samples():
    return {(m.name, s.name, tuple(sorted(s.labels.items()))): s.value
            for m in StepRunCollector().collect() for s in m.samples}


def test_step_runs_by_kind_and_status_and_duration_histogram(db):
    run = drive(start(shell("true"), shell("false", on_failure="continue"), shell("true")))
    for step_run, seconds in zip(run.steps.order_by("index"), (0.05, 0.05, 3)):
        step_run.finished_at = step_run.started_at + timedelta(seconds=seconds)
        step_run.save(update_fields=["finished_at"])
    got = samples()
    key = ("ops_console_runbook_step_runs", "ops_console_runbook_step_runs_total")
    assert got[(*key, (("kind", "shell"), ("status", "succeeded")))] == 2
    assert got[(*key, (("kind", "shell"), ("status", "failed")))] == 1
    hist = "ops_console_runbook_step_duration_seconds"
    assert got[(hist, f"{hist}_count", (("kind", "shell"),))] == 3
    assert got[(hist, f"{hist}_bucket", (("kind", "shell"), ("le", "2.5")))] == 2
    assert got[(hist, f"{hist}_bucket", (("kind", "shell"), ("le", "+Inf")))] == 3
    assert got[(hist, f"{hist}_sum", (("kind", "shell"),))] == 3.1


def test_the_metrics_endpoint_serves_them(client, db):
    drive(start(shell("true")))
    body = client.get("/metrics").content.decode()
    assert 'ops_console_runbook_step_runs_total{kind="shell",status="succeeded"} 1.0' in body
    assert 'ops_console_runbook_step_duration_seconds_count{kind="shell"} 1.0' in body
