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


def test_an_open_checklist_item_holds_back_the_steps_after_it(db, responder):
    run = drive(start(step("manual", "Decide with the commander: only continue if yes"), shell("echo restart"),
                      step("manual", "Tell the channel"), actor=responder))
    assert statuses(run) == ["waiting", "pending", "pending"] and run.status == "waiting"
    assert engine.blocking_step(run.steps.order_by("index"), run.document()).index == 1
    assert list(engine.held_back_by(run.steps.order_by("index"), run.document())) == [1]
    engine.do_confirm(run.steps.get(index=0).pk, actor=responder)
    run = drive(run)
    assert statuses(run) == ["succeeded", "succeeded", "waiting"] and run.status == "waiting"


def test_checklist_items_in_a_row_open_together(db, responder):
    run = start(step("manual", "Page the owner"), step("manual", "Open a bridge"), shell("echo after"),
                actor=responder)
    assert statuses(run) == ["waiting", "waiting", "pending"]
    engine.do_confirm(run.steps.get(index=1).pk, actor=responder)
    assert statuses(run) == ["waiting", "succeeded", "pending"]
    engine.do_confirm(run.steps.get(index=0).pk, actor=responder)
    assert drive(run).status == "succeeded"


def test_a_parallel_step_runs_alongside_an_open_checklist_item(db, responder):
    run = drive(start(step("manual", "Announce in #incidents"), shell("echo diagnosis", parallel=True),
                      shell("echo more"), actor=responder))
    assert statuses(run) == ["waiting", "succeeded", "pending"] and run.status == "waiting"
    assert list(engine.held_back_by(run.steps.order_by("index"), run.document())) == [2]


def test_a_parallel_phase_runs_alongside_its_checklist_items(db, responder):
    phases = [Phase(index=0, title="Immediate actions", heading="Immediate actions", parallel=True),
              Phase(index=1, title="Mitigation", heading="Mitigation")]
    run = drive(start(step("manual", "Announce in #incidents", phase=0), shell("echo diagnosis", phase=0),
                      step("manual", "Decide with the commander", phase=1), shell("echo restart", phase=1),
                      actor=responder, phases=phases))
    # The item of the parallel phase holds nothing back; the decision holds back the restart.
    assert statuses(run) == ["waiting", "succeeded", "waiting", "pending"] and run.status == "waiting"
    engine.do_confirm(run.steps.get(index=2).pk, actor=responder)
    assert statuses(drive(run)) == ["waiting", "succeeded", "succeeded", "succeeded"]


def test_a_parallel_step_still_waits_for_the_steps_before_it_that_are_not_checklist_items(db, responder):
    run = drive(start(step("approval", "Go?"), shell("echo after", parallel=True), actor=responder))
    assert statuses(run) == ["waiting", "pending"]


def test_a_command_after_an_open_item_cannot_be_clicked_before_the_item_is_ticked(db, responder):
    run = start(step("manual", "Decide"), shell("echo risky", auto=False), actor=responder)
    assert statuses(run) == ["waiting", "pending"]
    with pytest.raises(engine.ActionRefused):
        engine.do_run_step(run.steps.get(index=1).pk, actor=responder)
    engine.do_confirm(run.steps.get(index=0).pk, actor=responder)
    assert statuses(run) == ["succeeded", "waiting"]


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


def test_retries(db, responder, step_shared_dir):
    counter = step_shared_dir / "count"
    run = drive(start(shell(f"echo x >> {counter}; exit 1", retries=2), actor=responder))
    assert run.steps.get().attempts == 3 and counter.read_text().count("x") == 3
    assert run.status == "failed"


def test_every_attempt_of_an_automatic_retry_is_kept(db, responder, flaky_server):
    run = drive(start(step("http", f"GET {flaky_server.url}/health", auto=True, retries=1), actor=responder))
    step_run = run.steps.get()
    assert run.status == "succeeded" and step_run.attempts == 2
    first, second = step_run.attempt_records.order_by("number")
    assert (first.number, first.status, first.value, first.error) == (1, "failed", 503, "status 503, expected 2xx")
    assert first.output.startswith("HTTP 503") and first.command == f"GET {flaky_server.url}/health"
    assert (second.number, second.status, second.value) == (2, "succeeded", 200)
    assert first.started_at <= first.finished_at <= second.started_at <= second.finished_at
    assert step_run.output == second.output and step_run.value == 200  # the step shows its latest attempt


def test_a_retry_from_a_step_keeps_the_earlier_attempts_and_who_clicked(db, responder, commander):
    run = drive(start(shell("echo try; exit 1"), shell("echo after"), actor=responder))
    engine.do_retry(run.steps.get(index=0).pk, actor=commander)
    run = drive(run)
    kept = list(run.steps.get(index=0).attempt_records.order_by("number").values_list(
        "number", "status", "exit_code", "output", "confirmed_by__username"))
    assert kept == [(1, "failed", 1, "try\n", None), (2, "failed", 1, "try\n", commander.username)]
    assert run.steps.get(index=1).attempt_records.count() == 0


def test_a_lost_worker_and_a_cancel_keep_the_attempt_once(db, responder, commander):
    run = start(shell("echo first"), actor=responder)
    step_run = run.steps.get()
    token = StepRun.new_token()
    StepRun.objects.filter(pk=step_run.pk).update(status="running", attempts=1, output="half",
                                                  heartbeat_at=timezone.now() - timedelta(minutes=5),
                                                  claim_token=token)
    engine.reconcile()
    engine.reconcile()
    assert list(step_run.attempt_records.values_list("number", "status", "output")) == [(1, "lost", "half")]

    run = start(shell("sleep 5"), actor=responder)
    step_run = run.steps.get()
    claimed, token = engine._claim(step_run.pk)
    engine.do_cancel(run.pk, actor=commander)
    assert list(step_run.attempt_records.values_list("number", "status")) == [(1, "cancelled")]
    # The worker reports back after the cancel: what it printed fills in the same attempt.
    from ops_console.runbooks.executors import Outcome
    engine.finish_step(claimed, token, Outcome(ok=False, output="killed\n", exit_code=-15), "sleep 5",
                       doc=run.document())
    assert list(step_run.attempt_records.values_list("number", "status", "output", "exit_code", "command")) == [
        (1, "cancelled", "killed\n", -15, "sleep 5")]


def test_a_duplicated_message_runs_the_step_once(db, responder, step_shared_dir):
    marker = step_shared_dir / "marker"
    run = start(shell(f"echo ran >> {marker}"), actor=responder)
    step_id = run.steps.get().pk
    assert engine.execute_step(step_id) is True
    assert engine.execute_step(step_id) is False
    assert marker.read_text() == "ran\n"


def test_skip_and_retry_from_a_failed_step(db, responder, step_shared_dir):
    flag = step_shared_dir / "flag"
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


def test_a_step_claimed_for_this_worker_is_not_run_once_cancelled(db, make_user, responder, step_shared_dir,
                                                                  monkeypatch):
    marker = step_shared_dir / "second"
    run = start(shell("echo first"), shell(f"touch {marker}"), actor=responder)
    real_finish = engine.finish_step

    def finish_then_cancel(step_run, *args, **kwargs):
        real_finish(step_run, *args, **kwargs)
        if step_run.index == 0:  # the next step is now claimed for this worker; someone cancels
            engine.do_cancel(run.pk, actor=make_user("commander"))

    monkeypatch.setattr(engine, "finish_step", finish_then_cancel)
    drive(run)
    assert statuses(run) == ["succeeded", "cancelled"] and not marker.exists()


# --- secrets and credentials ------------------------------------------------------

@pytest.mark.integration
def test_a_secret_parameter_reaches_the_step_and_is_shown_nowhere(db, responder):
    from ops_console.runbooks.document import Parameter

    secret = "s3cr3t-value-that-must-not-show"
    run = drive(start(shell("echo got=$PARAM_token; echo {{ token }} | rev", params=["token"]),
                      actor=responder, parameters=[Parameter("token", type="secret", pattern="^[a-z0-9-]+$")],
                      values={"token": secret}))
    step_run = run.steps.get()
    assert run.status == "succeeded" and step_run.output == f"got=****\n{secret[::-1]}\n"
    assert run.parameters == {"token": "****"} and run.secret_parameters == {}   # emptied once finished
    entries = AuditEntry.objects.filter(object_id=str(run.pk))
    assert entries.filter(action="run.started").get().after["parameters"] == {"token": "****"}
    assert not [e for e in entries if secret in str(e.before) + str(e.after)]
    assert secret not in step_run.command and all(secret not in a.output for a in step_run.attempt_records.all())


@pytest.mark.integration
def test_a_failed_run_keeps_its_secret_for_a_retry_and_a_cancel_drops_it(db, responder, commander):
    from ops_console.runbooks.document import Parameter

    spec = [Parameter("token", type="secret", pattern="^[a-z0-9-]+$")]
    run = drive(start(shell("test $PARAM_token = right", params=["token"]), shell("echo next", auto=False),
                      actor=responder, parameters=spec, values={"token": "wrong"}))
    assert run.status == "failed" and run.secret_parameters == {"token": "wrong"}
    run2 = start(shell("echo $PARAM_token", params=["token"], auto=False), actor=responder, parameters=spec,
                 values={"token": "abc"})
    engine.do_cancel(run2.pk, actor=commander)
    run2.refresh_from_db()
    assert run2.secret_parameters == {}


@pytest.mark.integration
def test_each_use_of_credentials_is_audited_with_names_only(db, responder, tmp_path, settings):
    settings.RUNBOOK_CREDENTIALS_DIR = str(tmp_path)
    (tmp_path / "production").mkdir()
    (tmp_path / "production" / "DEPLOY_TOKEN").write_text("tok-abcdef-123456")
    run = drive(start(shell("echo $DEPLOY_TOKEN", queue="production"), shell("echo none"), actor=responder))
    assert [s.output for s in run.steps.order_by("index")] == ["****\n", "none\n"]
    used = AuditEntry.objects.filter(object_id=str(run.pk), action="step.credentials_used").get()
    assert used.after == {"step": 1, "title": "shell step", "queue": "production", "credentials": ["DEPLOY_TOKEN"]}


def test_a_chained_step_costs_the_same_queries_however_long_the_run(db, responder):
    """The worker runs a chain of automatic steps itself: each one's queries must not
    grow with the steps behind it, nor come back for what the engine holds already
    (the step's run, which the step_finished receivers read)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    per_step = {}
    for length in (3, 12):
        run = start(*[step("wait", title=f"no-op {n}", hold_for=0) for n in range(length)], actor=responder)
        with CaptureQueriesContext(connection) as captured:
            engine.execute_step(run.steps.get(index=0).pk)
        run.refresh_from_db()
        assert run.status == "succeeded" and statuses(run) == ["succeeded"] * length
        per_step[length] = len(captured)
    # Begin, lock the chain and the run, record the outcome, keep the attempt, read what
    # is left, hand the next step on (claimed), commit, check it is still ours: 9 a step.
    assert per_step[12] - per_step[3] == 9 * 9, per_step
