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


def test_steps_the_reconciler_should_have_dealt_with_are_overdue(db):
    from django.utils import timezone

    from ops_console.runbooks import engine
    from ops_console.runbooks.models import StepRun

    start(shell("true"), shell("true"), shell("true"))  # queued, nobody runs it here
    overdue = ("ops_console_steps_overdue", "ops_console_steps_overdue")
    assert samples()[(*overdue, (("status", "queued"),))] == 0
    now = timezone.now()
    StepRun.objects.filter(status="queued").update(queued_at=now - engine.REQUEUE_AFTER - timedelta(seconds=1))
    silent, alive = StepRun.objects.filter(status="pending").order_by("index")
    StepRun.objects.filter(pk=silent.pk).update(status="running",
                                                heartbeat_at=now - engine.LOST_AFTER - timedelta(seconds=1))
    StepRun.objects.filter(pk=alive.pk).update(status="running", heartbeat_at=now)
    got = samples()
    assert got[(*overdue, (("status", "queued"),))] == 1
    assert got[(*overdue, (("status", "running"),))] == 1
    engine.reconcile()  # re-dispatched and lost: nothing overdue any more
    got = samples()
    assert got[(*overdue, (("status", "queued"),))] == 0 and got[(*overdue, (("status", "running"),))] == 0
