"""Celery tasks: they carry ids only; the database says what to do."""
from celery import shared_task

from . import engine, schedules


# Acknowledged on receipt, unlike the project default (acks_late): the step row is the
# durable record, a lost message is re-dispatched by the reconciler, and a message
# re-delivered after a crash must not run a half-done step again anyway. It also spares
# the worker kombu's crash when Redis vanishes under an unacknowledged message.
@shared_task(name="ops_console.runbooks.tasks.run_step", acks_late=False, reject_on_worker_lost=False)
def run_step(step_run_id):
    """Run one step if it is still queued (a duplicate message finds it claimed and returns)."""
    return engine.execute_step(step_run_id)


@shared_task(name="ops_console.runbooks.tasks.reconcile_runs")
def reconcile_runs():
    """Every 10 s: re-dispatch lost messages, fail steps of dead workers, expire approvals, note overruns."""
    return engine.reconcile()


@shared_task(name="ops_console.runbooks.tasks.fire_due_schedules")
def fire_due_schedules():
    """Every 15 s: start the runs schedules owe. Any number of beats may send it: each
    occurrence is claimed in the database, so it fires once."""
    return schedules.fire_due_schedules()


@shared_task(name="ops_console.runbooks.tasks.ping", ignore_result=False)
def ping():
    """A bare task: the benchmark's round-trip baseline."""
    return "pong"
