"""The engine with real Celery workers and Redis: end to end, a worker killed
mid-step, a broker restarted mid-run."""
import contextlib
import subprocess
import time
from datetime import timedelta

import pytest

from ops_console.runbooks import engine
from ops_console.runbooks.models import Run, StepRun
from tests.waiting import wait_until

from .builders import shell, start, statuses, step

pytestmark = pytest.mark.integration


def step_status(run, index):
    return StepRun.objects.get(run=run, index=index).status


def run_status(run):
    return Run.objects.get(pk=run.pk).status


def test_a_mixed_runbook_runs_end_to_end(worker_control, prometheus, make_user):
    worker_control.start(extra_env={"PROMETHEUS_URL": prometheus.url})
    responder, commander = make_user("responder"), make_user("commander")
    run = start(
        shell("echo diagnosing {{ service }}", params=["service"]),
        step("promql", 'up{job="prometheus"}', expect="== 1"),
        step("wait", "", hold_for=0.2),
        step("manual", "Tell the channel"),
        step("approval", "Restart?"),
        shell("echo restarting", auto=False),
        actor=responder, values={"service": "api; rm -rf /"},
    )
    wait_until(lambda: step_status(run, 3) == "waiting", message="the manual step")
    assert statuses(run)[:3] == ["succeeded"] * 3
    first = run.steps.get(index=0)
    assert first.output == "diagnosing api; rm -rf /\n" and first.hostname
    assert first.command == 'echo diagnosing "${PARAM_service}"'
    assert run.steps.get(index=1).value[0]["value"] == 1.0
    engine.do_confirm(run.steps.get(index=3).pk, actor=responder)
    with pytest.raises(engine.ActionRefused):
        engine.do_approve(run.steps.get(index=4).pk, actor=responder)
    engine.do_approve(run.steps.get(index=4).pk, actor=commander)
    assert step_status(run, 5) == "waiting"
    engine.do_run_step(run.steps.get(index=5).pk, actor=responder)
    wait_until(lambda: run_status(run) == "succeeded", message="the run to finish")
    assert run.steps.get(index=5).output == "restarting\n"


def test_a_worker_killed_mid_step_leaves_it_failed_as_worker_lost_and_never_reruns_it(worker_control, responder,
                                                                                     step_shared_dir):
    marker = step_shared_dir / "side-effect"
    worker = worker_control.start(name="doomed")
    run = start(shell(f"echo ran >> {marker}; sleep 15"), shell("echo after"), actor=responder)
    wait_until(lambda: marker.exists() and step_status(run, 0) == "running", message="the step to start")
    worker.kill()
    time.sleep(1.5)  # time passes on purpose: a step counts as lost once its heartbeat is older than lost_after
    assert engine.reconcile(lost_after=timedelta(seconds=1))["lost"] == 1
    lost = run.steps.get(index=0)
    assert lost.status == "failed" and lost.error.startswith("worker lost")
    assert run_status(run) == "failed"
    # A re-delivered message on a fresh worker finds the step decided and does nothing.
    fresh = worker_control.start(name="fresh")
    engine.dispatch(lost.pk)
    wait_until(lambda: "run_step" in fresh.log_path.read_text() and "succeeded" in fresh.log_path.read_text(),
               message="the fresh worker to take the message")
    assert marker.read_text() == "ran\n"
    assert step_status(run, 0) == "failed"



def step_processes(pattern):
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return found.stdout.split()


def test_a_worker_killed_mid_step_takes_the_steps_processes_with_it(worker_control, responder):
    # Pool processes die with their worker; the step's sandbox dies with the pool process
    # that started it, and every process inside it (a background one too) with the sandbox.
    worker = worker_control.start(name="doomed")
    run = start(shell("sleep 31.7 & sleep 31.8; wait"), actor=responder)
    wait_until(lambda: len(step_processes("^sleep 31[.][78]$")) == 2, message="the step's two processes")
    worker.kill()
    wait_until(lambda: not step_processes("^sleep 31[.][78]$"), timeout=5, message="the step's processes to be gone")
    # Its claimer's process is gone from this machine: lost at once, not after lost_after.
    assert engine.reconcile()["lost"] == 1
    lost = run.steps.get(index=0)
    assert lost.status == "failed" and lost.error.startswith("worker lost: its process")
    assert engine.reconcile()["lost"] == 0

@contextlib.contextmanager
def celery_broker(url):
    """Point this process's Celery at another broker (and drop pooled connections)."""
    from ops_console.celery import app

    def use(broker):
        app.conf.broker_url = broker
        app._pool = None
        app.amqp._producer_pool = None

    old = app.conf.broker_url
    use(url)
    try:
        yield
    finally:
        use(old)


def test_a_redis_restart_mid_run_delays_but_does_not_lose_the_run(worker_control, private_redis, responder):
    with celery_broker(private_redis.url):
        worker = worker_control.start(redis_url=private_redis.url)
        run = start(shell("sleep 2; echo one"), shell("echo two", auto=False), actor=responder)
        wait_until(lambda: step_status(run, 0) == "running", message="step 1 to start")
        private_redis.stop()
        # Step 1 finishes while the broker is down, and someone clicks "Run" on step 2:
        # the message cannot be sent, the step stays queued in the database.
        wait_until(lambda: step_status(run, 1) == "waiting", message="step 1 to finish")
        engine.do_run_step(run.steps.get(index=1).pk, actor=responder)
        assert step_status(run, 1) == "queued"
        private_redis.start()

        def reconciled():
            engine.reconcile(requeue_after=timedelta(seconds=1))
            return run_status(run) == "succeeded"

        wait_until(reconciled, timeout=40, message="the run to finish after the restart")
        assert worker.alive()  # it reconnected by itself
    assert run.steps.get(index=1).output == "two\n"


def test_cancel_terminates_a_running_command(celery_worker, make_user, responder):
    run = start(shell("echo started; sleep 60"), actor=responder)
    wait_until(lambda: "started" in run.steps.get(index=0).output, message="output")
    engine.do_cancel(run.pk, actor=make_user("commander"))
    wait_until(lambda: run.steps.get(index=0).finished_at and "cancelled" in run.steps.get(index=0).error,
               timeout=10, message="the worker to stop the command")
    assert step_status(run, 0) == "cancelled" and run_status(run) == "cancelled"


def test_a_checklist_item_holds_back_the_step_after_it_until_ticked(worker_control, make_user):
    worker_control.start()
    responder = make_user("responder")
    run = start(step("manual", "Decide with the commander: only continue if yes"), shell("echo restarting"),
                shell("echo diagnosis", parallel=True), actor=responder)
    alongside = start(step("manual", "Announce in #incidents"), shell("echo diagnosis", parallel=True),
                      actor=responder)
    wait_until(lambda: step_status(alongside, 1) == "succeeded", message="the parallel step to run at once")
    assert run_status(alongside) == "waiting" and step_status(alongside, 0) == "waiting"
    # Given the same worker time, the held step has not started.
    assert statuses(run) == ["waiting", "pending", "pending"] and run_status(run) == "waiting"
    engine.do_confirm(run.steps.get(index=0).pk, actor=responder)
    wait_until(lambda: run_status(run) == "succeeded", message="the run to finish once the item is ticked")
    assert run.steps.get(index=1).output == "restarting\n"


def test_a_step_retried_by_its_worker_keeps_both_attempts(worker_control, make_user, flaky_server):
    worker_control.start()
    run = start(step("http", f"GET {flaky_server.url}/health", auto=True, retries=1), actor=make_user("responder"))
    wait_until(lambda: run_status(run) == "succeeded", message="the retried step to succeed")
    kept = list(run.steps.get().attempt_records.order_by("number").values_list("number", "status", "value"))
    assert kept == [(1, "failed", 503), (2, "succeeded", 200)]


def _cut_other_sessions(seconds):
    """A database blip as a worker sees it: every other session of the test
    database is terminated, again and again, for `seconds`."""
    from django.db import connection

    cut, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            cut += cursor.fetchone()[0]
        time.sleep(0.05)
    return cut


def test_a_database_blip_mid_step_neither_fails_the_step_nor_loses_its_output(celery_worker, responder):
    run = start(shell("for i in 1 2 3 4 5 6; do echo line$i; sleep 0.4; done"), shell("echo after"), actor=responder)
    wait_until(lambda: "line2" in StepRun.objects.get(run=run, index=0).output, message="output before the blip")
    assert _cut_other_sessions(1.5) >= 1  # the worker's connection was among them
    wait_until(lambda: run_status(run) == "succeeded", timeout=30, message="the run to finish after the blip")
    blipped = run.steps.get(index=0)
    assert blipped.output == "".join(f"line{i}\n" for i in range(1, 7))
    assert blipped.attempts == 1 and blipped.attempt_records.count() == 1
    assert run.steps.get(index=1).output == "after\n"
