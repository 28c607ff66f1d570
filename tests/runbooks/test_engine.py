"""The run state machine, driven synchronously (the test plays the worker)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from ops_console.audit.models import AuditEntry
from ops_console.runbooks import engine, signals
from ops_console.runbooks.document import Phase
from ops_console.runbooks.models import Run, StepRun

from .builders import drive, shell, start, statuses, step


def test_automatic_steps_run_in_order_and_the_run_succeeds(db, responder):
    run = start(shell("echo one"), shell("echo two"), actor=responder)
    assert statuses(run) == ["queued", "pending"]
    drive(run)
    assert run.status == "succeeded" and run.finished_at
    assert statuses(run) == ["succeeded", "succeeded"]
    assert run.steps.get(index=1).output == "two\n"
    assert AuditEntry.objects.filter(action="run.started", object_id=str(run.pk), actor=responder).exists()


def test_signals_are_sent(db, responder):
    seen = []
    handlers = [lambda sender, run, **kw: seen.append(("started", run.status)),
                lambda sender, run, **kw: seen.append(("finished", run.status)),
                lambda sender, step_run, **kw: seen.append(("step", step_run.status))]
    for signal, handler in zip((signals.run_started, signals.run_finished, signals.step_finished), handlers):
        signal.connect(handler, weak=False)
    try:
        drive(start(shell("true"), actor=responder, context={"incident": "INC-42"}))
    finally:
        for signal, handler in zip((signals.run_started, signals.run_finished, signals.step_finished), handlers):
            signal.disconnect(handler)
    assert seen == [("started", "running"), ("step", "succeeded"), ("finished", "succeeded")]


def test_a_command_waits_for_a_click_then_runs(db, responder):
    run = start(shell("echo risky", auto=False), actor=responder)
    assert statuses(run) == ["waiting"]
    run.refresh_from_db()
    assert run.status == "waiting"
    engine.do_run_step(run.steps.get().pk, actor=responder)
    drive(run)
    assert run.status == "succeeded"
    assert run.steps.get().confirmed_by == responder


def test_manual_and_approval_steps(db, responder, commander):
    run = start(step("manual", "Tell the channel"), step("approval", "Roll back?"), shell("echo done"),
                actor=responder)
    engine.do_confirm(run.steps.get(index=0).pk, actor=responder)
    assert statuses(run) == ["succeeded", "waiting", "pending"]
    engine.do_approve(run.steps.get(index=1).pk, actor=commander)
    drive(run)
    assert run.status == "succeeded"
    gate = run.steps.get(index=1)
    assert gate.approved_by == commander and gate.approved_at
    assert AuditEntry.objects.filter(action="step.approved", actor=commander).exists()


def test_an_open_checklist_item_does_not_hold_up_the_diagnostics(db, responder):
    run = drive(start(step("manual", "Acknowledge the page"), shell("echo diagnosis"), actor=responder))
    assert statuses(run) == ["waiting", "succeeded"] and run.status == "waiting"
    engine.do_confirm(run.steps.get(index=0).pk, actor=responder)
    run.refresh_from_db()
    assert run.status == "succeeded"


def test_the_starter_cannot_approve_their_own_run(db, commander):
    run = start(step("approval", "Roll back?"), actor=commander)
    with pytest.raises(engine.ActionRefused, match="another commander"):
        engine.do_approve(run.steps.get().pk, actor=commander)
    assert statuses(run) == ["waiting"]


def test_a_responder_cannot_approve_or_skip_a_gate(db, make_user, responder):
    run = start(step("approval", "Roll back?"), actor=make_user("commander"))
    for action in (engine.do_approve, engine.do_skip):
        with pytest.raises(engine.ActionRefused, match="commander"):
            action(run.steps.get().pk, actor=responder)
    assert statuses(run) == ["waiting"]


def test_a_rejected_gate_fails_the_run(db, responder, commander):
    run = start(step("approval", "Roll back?"), shell("echo never"), actor=responder)
    engine.do_reject(run.steps.get(index=0).pk, actor=commander)
    run.refresh_from_db()
    assert run.status == "failed" and statuses(run) == ["failed", "pending"]


def test_failure_stops_the_run_unless_on_failure_continue(db, responder):
    run = drive(start(shell("exit 3", on_failure="continue"), shell("exit 4"), shell("echo never"),
                      actor=responder))
    assert statuses(run) == ["failed", "failed", "pending"]
    assert run.status == "failed" and "step 2" in run.error
    assert run.steps.get(index=1).exit_code == 4


def test_retries(db, responder, tmp_path):
    counter = tmp_path / "count"
    run = drive(start(shell(f"echo x >> {counter}; exit 1", retries=2), actor=responder))
    assert run.steps.get().attempts == 3 and counter.read_text().count("x") == 3
    assert run.status == "failed"


def test_a_duplicated_message_runs_the_step_once(db, responder, tmp_path):
    marker = tmp_path / "marker"
    run = start(shell(f"echo ran >> {marker}"), actor=responder)
    step_id = run.steps.get().pk
    assert engine.execute_step(step_id) is True
    assert engine.execute_step(step_id) is False
    assert marker.read_text() == "ran\n"


def test_skip_and_retry_from_a_failed_step(db, responder, tmp_path):
    flag = tmp_path / "flag"
    run = drive(start(shell(f"test -e {flag}"), shell("echo after"), actor=responder))
    assert run.status == "failed"
    with pytest.raises(engine.ActionRefused, match="cannot be retried"):
        engine.do_retry(run.steps.get(index=1).pk, actor=responder)
    flag.write_text("")
    engine.do_retry(run.steps.get(index=0).pk, actor=responder)
    run = drive(run)
    assert run.status == "succeeded" and statuses(run) == ["succeeded", "succeeded"]
    assert run.steps.get(index=0).attempts == 2

    run2 = drive(start(shell("false"), shell("echo after"), actor=responder))
    engine.do_skip(run2.steps.get(index=0).pk, actor=responder)
    run2 = drive(run2)
    assert statuses(run2) == ["skipped", "succeeded"] and run2.status == "succeeded"


def test_cancel(db, make_user, responder):
    run = start(shell("echo x", auto=False), shell("echo y"), actor=responder)
    engine.do_cancel(run.pk, actor=make_user("commander"))
    run.refresh_from_db()
    assert run.status == "cancelled" and statuses(run) == ["cancelled", "cancelled"]
    with pytest.raises(engine.ActionRefused):
        engine.do_cancel(run.pk, actor=responder)
    with pytest.raises(engine.ActionRefused):
        engine.do_run_step(run.steps.get(index=0).pk, actor=responder)


def test_reconciler_marks_a_silent_worker_lost(db, responder):
    run = start(shell("echo first"), shell("echo next"), actor=responder)
    step_run = run.steps.get(index=0)
    StepRun.objects.filter(pk=step_run.pk).update(status="running", heartbeat_at=timezone.now() - timedelta(minutes=5),
                                                  claim_token=StepRun.new_token())
    counts = engine.reconcile()
    step_run.refresh_from_db()
    run.refresh_from_db()
    assert counts["lost"] == 1
    assert step_run.status == "failed" and step_run.error.startswith("worker lost")
    assert run.status == "failed"
    # ...and the run can be retried from that step.
    engine.do_retry(step_run.pk, actor=responder)
    assert drive(run).status == "succeeded"


def test_reconciler_redispatches_steps_nobody_picked_up(db, responder, monkeypatch):
    sent = []
    monkeypatch.setattr(engine, "dispatch", lambda step_id, queue=None: sent.append((step_id, queue)))
    run = start(shell("echo hi", queue="prod-eu"), actor=responder)
    step_run = run.steps.get()
    assert engine.reconcile()["redispatched"] == 0
    StepRun.objects.filter(pk=step_run.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    with pytest.MonkeyPatch.context() as m:
        m.setattr("django.db.transaction.on_commit", lambda fn, *a, **k: fn())
        assert engine.reconcile()["redispatched"] == 1
    assert sent == [(step_run.pk, "prod-eu")]


def test_approvals_expire(db, responder):
    run = start(step("approval", "Go?", ttl=60.0), actor=responder)
    gate = run.steps.get()
    assert gate.expires_at is not None
    assert engine.reconcile()["expired"] == 0
    assert engine.reconcile(now=timezone.now() + timedelta(minutes=2))["expired"] == 1
    gate.refresh_from_db()
    run.refresh_from_db()
    assert gate.status == "failed" and "expired" in gate.error and run.status == "failed"


def test_phase_overruns_are_recorded_once(db, responder):
    run = start(step("manual", "Do it", phase=0), actor=responder,
                phases=[Phase(index=0, title="Immediate", heading="Immediate (0-5 min)", budget_start_min=0,
                              budget_end_min=5)])
    assert engine.reconcile()["overruns"] == 0
    later = timezone.now() + timedelta(minutes=6)
    assert engine.reconcile(now=later)["overruns"] == 1
    assert engine.reconcile(now=later)["overruns"] == 0
    run.refresh_from_db()
    assert [item["title"] for item in run.phase_overruns] == ["Immediate"]


def test_a_runbook_without_steps_succeeds_at_once(db, responder):
    assert start(actor=responder).status == Run.SUCCEEDED


@pytest.mark.parametrize("kind, body, attrs, waits", [
    ("shell", "uptime", {"auto": False}, True), ("shell", "uptime", {"auto": True}, False),
    ("shell", "uptime", {"auto": True, "confirm": True}, True), ("http", "GET http://x/", {"auto": True}, False),
    ("http", "POST http://x/", {"auto": True, "method": "POST"}, True), ("promql", "up", {"auto": True}, False),
    ("manual", "Tell them", {}, True), ("approval", "Go?", {}, True),
])
def test_which_steps_wait_for_a_person(kind, body, attrs, waits):
    assert engine.needs_person(step(kind, body, **attrs)) is waits


@pytest.mark.integration
def test_fifty_megabytes_of_output_are_stored_bounded(db, responder):
    run = drive(start(shell("head -c 50000000 /dev/zero | tr '\\0' x; echo; echo done"), actor=responder))
    stored = run.steps.get()
    assert stored.status == "succeeded" and stored.output.endswith("done\n")
    assert len(stored.output) < 200_000 and stored.output_cut > 49_000_000


def test_a_step_claimed_for_this_worker_is_not_run_once_cancelled(db, make_user, responder, tmp_path, monkeypatch):
    marker = tmp_path / "second"
    run = start(shell("echo first"), shell(f"touch {marker}"), actor=responder)
    real_finish = engine.finish_step

    def finish_then_cancel(step_run, *args, **kwargs):
        real_finish(step_run, *args, **kwargs)
        if step_run.index == 0:  # the next step is now claimed for this worker; someone cancels
            engine.do_cancel(run.pk, actor=make_user("commander"))

    monkeypatch.setattr(engine, "finish_step", finish_then_cancel)
    drive(run)
    assert statuses(run) == ["succeeded", "cancelled"] and not marker.exists()
