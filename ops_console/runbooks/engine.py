"""The runbook engine: every change to a run goes through a do_* action that
locks the run row, changes state by the transition tables, writes the audit
entry and sends signals in the same transaction, and enqueues "run step X"
on commit. Workers claim a step with a conditional UPDATE, so a duplicated or
re-delivered message never runs it twice; reconcile() finds what was lost."""
import logging
import os
import socket
import threading
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ops_console import database
from ops_console.audit import log as audit
from ops_console.audit.log import record

from . import executors, live_output, params, signals
from .models import Run, StepAttempt, StepRun

log = logging.getLogger(__name__)

# A running step refreshes its heartbeat every FLUSH_SECONDS; this long without one = worker lost.
LOST_AFTER = timedelta(seconds=getattr(settings, "RUNBOOK_WORKER_LOST_AFTER", 30))
# A step queued this long without a worker picking it up is dispatched again (lost broker message).
REQUEUE_AFTER = timedelta(seconds=getattr(settings, "RUNBOOK_REQUEUE_AFTER", 20))
# A finished step's outcome waits this long for an unreachable database (a restart,
# a failover) before the worker gives up; its output is in memory meanwhile.
FINISH_RETRY_SECONDS = getattr(settings, "RUNBOOK_FINISH_RETRY_SECONDS", 120)
HEARTBEATING_KINDS = ("shell", "wait")


class ActionRefused(Exception):
    """A person asked for something the run's state or their role does not allow."""


# --- what a step needs ------------------------------------------------------

def needs_person(step):
    """Does this step wait for a click (or an approval) before it runs?"""
    if step.kind in ("manual", "approval") or step.confirm:
        return True
    if step.kind == "http":
        return not step.auto or executors.http_method(step) not in executors.SAFE_METHODS
    return not step.auto


def approval_ttl(step):
    return timedelta(seconds=step.ttl) if step.ttl else None


# --- starting and advancing -------------------------------------------------

def start_run(version, parameters, *, actor, context=None):
    """Start a run of a version with already validated parameter values."""
    doc = version.parsed()
    secrets = {name: value for name, value in parameters.items()
               if any(p.name == name and p.type == "secret" for p in doc.parameters)}
    parameters = params.masked(doc.parameters, parameters)
    with audit.atomic():
        run = Run.objects.create(runbook=version.runbook, version=version, parameters=parameters,
                                 secret_parameters=secrets, started_by=actor, context=context or {})
        StepRun.objects.bulk_create([StepRun(run=run, index=step.index, kind=step.kind, title=step.title[:300],
                                             expectation=(step.expect or "")[:500]) for step in doc.steps])
        record("run.started", obj=run, actor=actor,
               after={"runbook": version.runbook.slug, "version": version.number, "parameters": parameters,
                      "context": run.context})
        signals.run_started.send(sender=Run, run=run)
        _advance(run, doc)
    return run


def _lock(run_id):
    # Called inside audit.atomic(), which took the audit chain's lock first: a
    # change here may record (finishing a step can finish the run) and its signals
    # reach other apps' rows (an incident's timeline). With the chain first here as
    # in every other action, no two writers can wait on each other in a circle,
    # whatever rows a receiver locks later; run first, chain later could.
    # No select_related: FOR UPDATE would lock the joined runbook and version rows too,
    # serialising every run of one runbook.
    return Run.objects.select_for_update().get(pk=run_id)


def alongside(step, doc):
    """Does the step run alongside open checklist items: parallel=true, or its phase marked {parallel}?"""
    return step.parallel or (step.phase is not None and doc.phases[step.phase].parallel)


def holds_back(item, step, doc):
    """Does an open checklist item keep a later step from starting? It does, in
    document order, unless either of them runs alongside; checklist items never
    wait for each other (people tick them in any order)."""
    return step.kind != "manual" and not alongside(item, doc) and not alongside(step, doc)


def _passed(step_run, step):
    """The run may move past this step."""
    return _passed_in(step_run.status, step)


def _passed_in(status, step):
    return status in StepRun.DONE or (status == StepRun.FAILED and step.on_failure in ("continue", "report"))


# What _advance reads of each step it has not passed, and keeps of the one it moves
# (who clicked is kept with each attempt): outputs can be large. In the model's
# order, the order from_db() takes them in.
_ADVANCE_FIELDS = tuple(field.attname for field in StepRun._meta.concrete_fields if field.attname in {
    "id", "run_id", "index", "title", "status", "attempts", "confirmed_by_id"})
_INDEX, _TITLE, _STATUS = (_ADVANCE_FIELDS.index(name) for name in ("index", "title", "status"))


def _advance(run, doc=None):
    """Move the run forward from its current state (the caller holds the run's lock).
    Steps run in document order: a step starts once every step before it is done,
    except that an open checklist item does not hold back what runs alongside it."""
    if run.finished:
        return
    doc = doc or run.document()
    open_items = []
    # Rows as tuples, and a model instance only for the step that moves: this runs
    # after every step, and a run of many steps would build them all each time.
    rows = StepRun.objects.filter(run_id=run.pk).exclude(status__in=StepRun.DONE).order_by("index")
    for row in rows.values_list(*_ADVANCE_FIELDS):
        index, title, status = row[_INDEX], row[_TITLE], row[_STATUS]
        step = doc.steps[index]
        if _passed_in(status, step):
            continue
        if status in (StepRun.FAILED, StepRun.CANCELLED):
            _finish_run(run, Run.FAILED, error=f"step {index + 1} ({title}) failed")
            return
        if status == StepRun.PENDING:
            if any(holds_back(doc.steps[item], step, doc) for item in open_items):
                break  # it starts when the items before it are ticked
            step_run = StepRun.from_db(rows.db, _ADVANCE_FIELDS, row)
            step_run.run = run  # the run's receivers read it (drills): no query for it
            if needs_person(step):
                step_run.set_status(StepRun.WAITING)
                ttl = approval_ttl(step) if step.kind == "approval" else None
                step_run.expires_at = timezone.now() + ttl if ttl else None
                step_run.save(update_fields=["status", "expires_at"])
            else:
                _enqueue(step_run, step)
            status = step_run.status
        if status == StepRun.WAITING and step.kind == "manual":
            open_items.append(index)
            continue
        _set_run_status(run, Run.WAITING if status == StepRun.WAITING else Run.RUNNING)
        return
    if open_items:
        _set_run_status(run, Run.WAITING)
    else:
        _finish_run(run, Run.SUCCEEDED)


def blocking_step(step_runs, doc):
    """The first step the run cannot move past: where _advance stops. Open
    checklist items do not count, but a step they hold back does."""
    for step_run in step_runs:
        step = doc.steps[step_run.index]
        if _passed(step_run, step) or (step_run.status == StepRun.WAITING and step.kind == "manual"):
            continue
        return step_run
    return None


def held_back_by(step_runs, doc):
    """{index of a pending step: [the open checklist items that keep it from starting]}
    for the step the run stops at, so the page can say what it waits for."""
    open_items = []
    for step_run in step_runs:
        step = doc.steps[step_run.index]
        if _passed(step_run, step):
            continue
        if step_run.status == StepRun.WAITING and step.kind == "manual":
            open_items.append(step_run)
            continue
        if step_run.status == StepRun.PENDING:
            holders = [item for item in open_items if holds_back(doc.steps[item.index], step, doc)]
            return {step_run.index: holders} if holders else {}
        return {}
    return {}


def _set_run_status(run, status):
    if run.status != status:
        run.set_status(status)
        run.save(update_fields=["status"])


def _finish_run(run, status, error=""):
    run.set_status(status)
    run.finished_at = timezone.now()
    run.error = error
    fields = ["status", "finished_at", "error"]
    if status != Run.FAILED and run.secret_parameters:
        run.secret_parameters = {}   # no step of it can run again (a failed run can be retried)
        fields.append("secret_parameters")
    run.save(update_fields=fields)
    record(f"run.{status}", obj=run, after={"status": status, "error": error})
    signals.run_finished.send(sender=Run, run=run)


# Set while a worker executes a step: the next automatic step of the same queue is
# then run by the same worker process right away instead of through the broker.
_chain = threading.local()


def _enqueue(step_run, step):
    step_run.set_status(StepRun.QUEUED)
    now = timezone.now()
    step_run.queued_at = now
    if getattr(_chain, "active", False) and _chain.queue == step.queue and _chain.next is None:
        # This worker takes the step at once: claimed here, in the transaction that
        # queues it. Should the worker die before running it, the reconciler sees a
        # stale heartbeat and reports it lost, as for any claimed step.
        _chain.next = (step_run, _claim_fields(step_run, now))
        step_run.save(update_fields=["status", "queued_at", *CLAIM_FIELDS])
        return
    step_run.save(update_fields=["status", "queued_at"])
    step_id, queue = step_run.pk, step.queue
    transaction.on_commit(lambda: dispatch(step_id, queue))


CLAIM_FIELDS = ("claim_token", "claimed_by", "hostname", "started_at", "heartbeat_at", "finished_at", "attempts")


def _claim_fields(step_run, now):
    """Fill in a claim on the instance (status running, a new token) -> the token."""
    host = socket.gethostname()
    step_run.set_status(StepRun.RUNNING)
    step_run.claim_token = StepRun.new_token()
    step_run.claimed_by, step_run.hostname = f"{host}:{os.getpid()}", host
    step_run.started_at = step_run.heartbeat_at = now
    step_run.finished_at = None
    step_run.attempts += 1
    return step_run.claim_token


def dispatch(step_run_id, queue=None):
    """Ring the doorbell. A broker that is down loses nothing: the step stays
    queued in the database and the reconciler dispatches it again."""
    from .tasks import run_step

    try:
        # Fail fast instead of blocking a web request or a worker while the broker is down
        # (retry=False alone still lets kombu retry the connection for seconds).
        run_step.apply_async((step_run_id,), queue=queue or settings.CELERY_TASK_DEFAULT_QUEUE, retry=True,
                             retry_policy={"max_retries": 0, "interval_start": 0})
    except Exception as exc:  # noqa: BLE001 - any broker failure: the reconciler retries
        log.warning("could not dispatch step run %s (%s); the reconciler will retry", step_run_id, exc)


# --- the worker side --------------------------------------------------------

def execute_step(step_run_id, chain=True):
    """Claim a queued step, run it, record the outcome; then run the automatic
    steps that follow on the same queue. Safe to call twice: returns False when
    the step was not queued (already claimed, cancelled, decided)."""
    claimed = _claim(step_run_id)
    if claimed is None:
        return False
    step_run, token = claimed
    run, doc = step_run.run, step_run.run.document()
    while step_run is not None:
        _chain.active, _chain.queue, _chain.next = chain, doc.steps[step_run.index].queue, None
        try:
            _execute_claimed(run, doc, step_run, token)
            step_run, token = _chain.next or (None, None)
        finally:
            _chain.active, _chain.next = False, None
        if token and not database.outlasting_blips(
                lambda: StepRun.objects.filter(pk=step_run.pk, claim_token=token, status=StepRun.RUNNING).update(
                    heartbeat_at=timezone.now()), retry_for=FINISH_RETRY_SECONDS, what="the next step's heartbeat"):
            break  # cancelled (or reset) since it was claimed: leave it alone
    return True


def _claim(step_run_id):
    """The conditional UPDATE that makes one worker, and only one, own a queued step."""
    host = socket.gethostname()
    now = timezone.now()
    token = StepRun.new_token()
    claimed = StepRun.objects.filter(pk=step_run_id, status=StepRun.QUEUED).update(
        status=StepRun.RUNNING, claim_token=token, claimed_by=f"{host}:{os.getpid()}", hostname=host,
        started_at=now, heartbeat_at=now, finished_at=None, attempts=F("attempts") + 1)
    if not claimed:
        return None
    return StepRun.objects.select_related("run__version").get(pk=step_run_id), token


def _execute_claimed(run, doc, step_run, token):
    step = doc.steps[step_run.index]
    step_run_id = step_run.pk

    def progress(output, cut, command):
        try:
            return bool(StepRun.objects.filter(pk=step_run_id, claim_token=token, status=StepRun.RUNNING).update(
                output=output, output_cut=cut, command=command, heartbeat_at=timezone.now()))
        except database.BLIP_ERRORS as exc:
            # The database is away for a moment: the command goes on, and what it printed
            # (kept in memory) is written at the next flush or when it finishes.
            log.warning("step run %s: output not flushed (%s); the step goes on", step_run_id, exc)
            database.drop_broken_connection()
            return True

    def credentials_used(queue, names):
        with audit.atomic():
            record("step.credentials_used", obj=run,
                   after={"step": step_run.index + 1, "title": step_run.title, "queue": queue, "credentials": names})

    secrets = run.secret_parameters or {}
    context = executors.StepContext(step, {**run.parameters, **secrets}, progress,
                                    hidden=[str(v) for v in secrets.values()], credentials_used=credentials_used,
                                    live=lambda hidden: live_output.Publisher(run.pk, step_run_id, step_run.attempts,
                                                                              hidden))
    try:
        outcome = executors.get(step.kind).execute(context)
    except executors.StepError as exc:
        outcome = executors.Outcome(ok=False, error=str(exc), permanent=exc.permanent)
    except Exception as exc:  # noqa: BLE001 - a bug in an executor fails the step, not the worker
        log.exception("step run %s crashed", step_run_id)
        outcome = executors.Outcome(ok=False, error=f"internal error: {type(exc).__name__}: {exc}", permanent=True)
    # Nothing a secret parameter or a credential holds is stored: not in the output, the
    # command (an http step's headers hold its values) or an error message.
    outcome.output = executors.mask(outcome.output, context.hidden)
    outcome.error = executors.mask(outcome.error, context.hidden)
    command = executors.mask(context.command, context.hidden)
    # Safe to repeat: a retry after a commit whose answer was lost finds the step decided.
    database.outlasting_blips(lambda: finish_step(step_run, token, outcome, command, doc=doc),
                              retry_for=FINISH_RETRY_SECONDS, what=f"finishing step run {step_run_id}")


def finish_step(step_run, token, outcome, command="", *, doc):
    """Record a step's outcome, if this worker still owns it, and move the run on."""
    values = {"output": outcome.output, "output_cut": outcome.output_cut, "exit_code": outcome.exit_code,
              "value": outcome.value, "expectation_met": outcome.expectation_met, "error": outcome.error,
              "command": command, "finished_at": timezone.now()}
    mine = StepRun.objects.filter(pk=step_run.pk, claim_token=token)
    step = doc.steps[step_run.index]
    # A diagnostic (on_failure=report) whose check does not hold has found what it looks
    # for: it did its job (succeeded, expectation not met) and the run goes on.
    done = outcome.ok or (step.on_failure == "report" and outcome.expectation_met is False)
    with audit.atomic():
        run = _lock(step_run.run_id)
        retry = not done and not outcome.permanent and step_run.attempts <= step.retries \
            and not run.cancel_requested
        status = None if retry else (StepRun.SUCCEEDED if done else StepRun.FAILED)
        if not mine.filter(status=StepRun.RUNNING).update(**values, **({"status": status} if status else {})):
            # The lease was lost (worker lost: its attempt is kept as lost) or the run was
            # cancelled: keep what it printed in the cancelled attempt, decide nothing.
            if mine.filter(status=StepRun.CANCELLED).update(**values):
                _set_fields(step_run, values)
                StepAttempt.keep(step_run, StepAttempt.CANCELLED, reported=True)
            return
        step_run.status = StepRun.RUNNING
        _set_fields(step_run, values)
        StepAttempt.keep(step_run, StepAttempt.SUCCEEDED if done else StepAttempt.FAILED)
        if retry:
            _enqueue(step_run, step)
            return
        step_run.set_status(status)
        signals.step_finished.send(sender=StepRun, step_run=step_run)
        _advance(run, doc)


def _set_fields(step_run, values):
    for name, value in values.items():
        setattr(step_run, name, value)


# --- what people do ---------------------------------------------------------

def _step_for_action(step_run_id, expected, verb):
    step_run = StepRun.objects.select_related("run").get(pk=step_run_id)
    run = _lock(step_run.run_id)
    step_run = StepRun.objects.select_for_update().get(pk=step_run_id)
    step_run.run = run
    if run.finished and run.status != Run.FAILED or step_run.status not in expected:
        raise ActionRefused(f"Step {step_run.index + 1} is {step_run.status} and the run is {run.status}: "
                            f"it cannot be {verb} now.")
    return run, step_run, run.document().steps[step_run.index]


def _snapshot(step_run):
    return {"step": step_run.index + 1, "title": step_run.title, "status": step_run.status}


def do_run_step(step_run_id, *, actor):
    """The click that lets a waiting command (shell, non-GET http) run."""
    with audit.atomic():
        run, step_run, step = _step_for_action(step_run_id, (StepRun.WAITING,), "run")
        if step.kind in ("approval", "manual"):
            raise ActionRefused("This step is not run by a worker: confirm or approve it instead.")
        before = _snapshot(step_run)
        step_run.confirmed_by, step_run.confirmed_at = actor, timezone.now()
        step_run.save(update_fields=["confirmed_by", "confirmed_at"])
        _enqueue(step_run, step)
        _set_run_status(run, Run.RUNNING)
        record("step.run", obj=run, actor=actor, before=before, after=_snapshot(step_run))
    return step_run


def do_confirm(step_run_id, *, actor):
    """A person says a manual step is done."""
    with audit.atomic():
        run, step_run, step = _step_for_action(step_run_id, (StepRun.WAITING,), "confirmed")
        if step.kind != "manual":
            raise ActionRefused("Only manual steps are confirmed; run or approve this one.")
        return _complete_by_person(run, step_run, actor, "step.confirmed", confirmed=True)


def do_approve(step_run_id, *, actor):
    with audit.atomic():
        run, step_run, step = _step_for_action(step_run_id, (StepRun.WAITING,), "approved")
        _check_approver(run, step, actor)
        if step_run.expires_at and step_run.expires_at <= timezone.now():
            raise ActionRefused("This approval has expired.")
        return _complete_by_person(run, step_run, actor, "step.approved", confirmed=False)


def do_reject(step_run_id, *, actor, reason=""):
    with audit.atomic():
        run, step_run, step = _step_for_action(step_run_id, (StepRun.WAITING,), "rejected")
        _check_approver(run, step, actor)
        before = _snapshot(step_run)
        step_run.set_status(StepRun.FAILED)
        step_run.approved_by, step_run.approved_at = actor, timezone.now()
        step_run.finished_at = step_run.approved_at
        step_run.error = f"rejected by {actor.get_username()}" + (f": {reason}" if reason else "")
        step_run.save(update_fields=["status", "approved_by", "approved_at", "finished_at", "error"])
        record("step.rejected", obj=run, actor=actor, before=before, after={**_snapshot(step_run), "reason": reason})
        signals.step_finished.send(sender=StepRun, step_run=step_run)
        _advance(run)
    return step_run


def _check_approver(run, step, actor):
    if step.kind != "approval":
        raise ActionRefused("This step is not an approval gate.")
    if not actor.has_perm("runbooks.approve_step"):
        raise ActionRefused("Approving needs the commander role.")
    if run.started_by_id == actor.pk:
        raise ActionRefused("You started this run, so you cannot approve its gates: "
                            "another commander has to approve.")


def _complete_by_person(run, step_run, actor, action, confirmed):
    before = _snapshot(step_run)
    step_run.set_status(StepRun.SUCCEEDED)
    now = timezone.now()
    if confirmed:
        step_run.confirmed_by, step_run.confirmed_at = actor, now
    else:
        step_run.approved_by, step_run.approved_at = actor, now
    step_run.finished_at = now
    step_run.save(update_fields=["status", "confirmed_by", "confirmed_at", "approved_by", "approved_at",
                                 "finished_at"])
    record(action, obj=run, actor=actor, before=before, after=_snapshot(step_run))
    signals.step_finished.send(sender=StepRun, step_run=step_run)
    _advance(run)
    return step_run


def do_skip(step_run_id, *, actor):
    """Skip a waiting step, or a failed one so the run carries on."""
    with audit.atomic():
        run, step_run, step = _step_for_action(step_run_id, (StepRun.WAITING, StepRun.FAILED), "skipped")
        if step.kind == "approval":
            _check_approver(run, step, actor)  # skipping a gate is approving it
        before = _snapshot(step_run)
        was_failed = step_run.status == StepRun.FAILED
        step_run.set_status(StepRun.SKIPPED)
        step_run.confirmed_by, step_run.confirmed_at = actor, timezone.now()
        step_run.finished_at = step_run.finished_at or step_run.confirmed_at
        step_run.save(update_fields=["status", "confirmed_by", "confirmed_at", "finished_at"])
        if run.status == Run.FAILED and was_failed:
            _reopen(run)
        record("step.skipped", obj=run, actor=actor, before=before, after=_snapshot(step_run))
        _advance(run)
    return step_run


def _reopen(run):
    run.set_status(Run.RUNNING)
    run.finished_at, run.error = None, ""
    run.save(update_fields=["status", "finished_at", "error"])


def do_retry(step_run_id, *, actor):
    """Retry a failed run from this step: it and every later step start over."""
    with audit.atomic():
        run, step_run, step = _step_for_action(step_run_id, StepRun.FINISHED, "retried")
        if run.status != Run.FAILED:
            raise ActionRefused("Only a failed run can be retried from a step.")
        blocking = blocking_step(run.steps.order_by("index"), run.document())
        if blocking is not None and step_run.index > blocking.index:
            raise ActionRefused(f"Retry from step {blocking.index + 1} or an earlier one: the run stopped there.")
        before = _snapshot(step_run)
        for later in run.steps.filter(index__gte=step_run.index).order_by("index"):
            later.set_status(StepRun.PENDING)
            for name in ("queued_at", "started_at", "finished_at", "claim_token", "heartbeat_at", "exit_code",
                         "value", "expectation_met", "expires_at", "confirmed_by", "confirmed_at", "approved_by",
                         "approved_at"):
                setattr(later, name, None)
            later.output, later.output_cut, later.error, later.command = "", 0, "", ""
            later.save()
        _reopen(run)
        step_run.refresh_from_db()
        if step.kind not in ("approval", "manual"):
            # The retry click is the confirmation for this one step.
            step_run.confirmed_by, step_run.confirmed_at = actor, timezone.now()
            step_run.save(update_fields=["confirmed_by", "confirmed_at"])
            _enqueue(step_run, step)
        record("run.retried", obj=run, actor=actor, before=before, after={"from_step": step_run.index + 1})
        _advance(run)
    return step_run


def do_cancel(run_id, *, actor):
    """Cancel a run; a running shell step notices within a second and is killed."""
    with audit.atomic():
        run = _lock(run_id)
        if run.finished:
            raise ActionRefused(f"The run is already {run.status}.")
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested"])
        now = timezone.now()
        for step_run in run.steps.exclude(status__in=StepRun.FINISHED):
            running = step_run.status == StepRun.RUNNING
            step_run.set_status(StepRun.CANCELLED)
            step_run.finished_at = now
            step_run.save(update_fields=["status", "finished_at"])
            if running:
                # Kept now, in case its worker never reports back; a report fills it in.
                StepAttempt.keep(step_run, StepAttempt.CANCELLED)
        run.set_status(Run.CANCELLED)
        run.finished_at, run.secret_parameters = now, {}
        run.save(update_fields=["status", "finished_at", "secret_parameters"])
        record("run.cancelled", obj=run, actor=actor, after={"status": run.status})
        signals.run_finished.send(sender=Run, run=run)
    return run


# --- the reconciler ---------------------------------------------------------

def reconcile(now=None, lost_after=LOST_AFTER, requeue_after=REQUEUE_AFTER):
    """Find what lost or duplicated messages and dead workers left behind."""
    now = now or timezone.now()
    counts = {"redispatched": 0, "lost": 0, "expired": 0, "overruns": 0}
    for step_run in StepRun.objects.filter(status=StepRun.QUEUED, queued_at__lt=now - requeue_after):
        if StepRun.objects.filter(pk=step_run.pk, status=StepRun.QUEUED, queued_at=step_run.queued_at).update(
                queued_at=now):
            step = step_run.run.document().steps[step_run.index]
            transaction.on_commit(lambda i=step_run.pk, q=step.queue: dispatch(i, q))
            counts["redispatched"] += 1
    for step_run in StepRun.objects.filter(status=StepRun.RUNNING, hostname=socket.gethostname()):
        # Claimed on this machine by a process that is gone: lost now, not once its heartbeat is old.
        if not _claimer_alive(step_run.claimed_by):
            counts["lost"] += _fail_stale(step_run.pk, StepRun.RUNNING, "heartbeat_at",
                                          step_run.heartbeat_at + timedelta(microseconds=1),
                                          f"worker lost: its process {step_run.claimed_by} is gone")
    for step_run in StepRun.objects.filter(status=StepRun.RUNNING, heartbeat_at__lt=now - lost_after):
        step = step_run.run.document().steps[step_run.index]
        grace = lost_after if step.kind in HEARTBEATING_KINDS else lost_after + timedelta(seconds=step.timeout)
        if step_run.heartbeat_at < now - grace:
            counts["lost"] += _fail_stale(step_run.pk, StepRun.RUNNING, "heartbeat_at", now - grace,
                                          f"worker lost: no heartbeat from {step_run.claimed_by or 'its worker'} "
                                          f"since {step_run.heartbeat_at:%H:%M:%S} UTC")
    for step_run in StepRun.objects.filter(status=StepRun.WAITING, expires_at__lt=now):
        counts["expired"] += _fail_stale(step_run.pk, StepRun.WAITING, "expires_at", now,
                                         "approval expired before anyone approved it")
    counts["overruns"] = record_phase_overruns(now)
    return counts


def _claimer_alive(claimed_by):
    """Whether the process named by a claim ("host:pid", on this host) still runs.
    A zombie is gone: a killed pool process waits unreaped where nothing reaps orphans."""
    pid = claimed_by.rpartition(":")[2]
    if not pid.isdigit():
        return True  # not a claim this code wrote: leave it to the heartbeat
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _fail_stale(step_run_id, status, field, cutoff, reason):
    with audit.atomic():
        run = _lock(StepRun.objects.values_list("run_id", flat=True).get(pk=step_run_id))
        step_run = StepRun.objects.select_for_update().get(pk=step_run_id)
        if step_run.status != status or getattr(step_run, field) >= cutoff:
            return 0  # it moved on meanwhile
        running = step_run.status == StepRun.RUNNING
        step_run.set_status(StepRun.FAILED)
        step_run.error, step_run.finished_at, step_run.claim_token = reason, timezone.now(), None
        step_run.save(update_fields=["status", "error", "finished_at", "claim_token"])
        if running:
            StepAttempt.keep(step_run, StepAttempt.LOST)
        record("step.failed", obj=run, after={**_snapshot(step_run), "error": reason})
        signals.step_finished.send(sender=StepRun, step_run=step_run)
        _advance(run)
    return 1


def phase_budget(phase, phases):
    """How long a phase may take from its own start; None without a budget.
    "(< 5s)" and "(2h)" are durations. A range that starts where the budgeted
    phase before it ends is a stretch of a response timeline: "(0-5 min)" then
    "(5-15 min)" gives the second 10 minutes. Any other range says how long the
    phase takes, up to its upper end: "Recovery (30-60s)" after "Detection (< 5s)"
    may take 60 seconds."""
    if phase.budget_end_min is None:
        return None
    start = phase.budget_start_min or 0
    before = [p for p in phases if p.index < phase.index and p.budget_end_min is not None]
    chained = bool(before) and abs(before[-1].budget_end_min - start) < 1e-9
    return timedelta(minutes=phase.budget_end_min - (start if chained else 0))


def phase_started_at(run, doc, phase, step_runs):
    """When the run reached a phase: the first of its steps queued or started, or
    the moment every step before it was done, whichever came first (the run's
    start for the first phase); None while it has not been reached."""
    own = [s.index for s in doc.steps if s.phase == phase.index]
    moments = [t for i in own if (sr := step_runs.get(i)) for t in (sr.queued_at, sr.started_at) if t]
    before = [step_runs.get(i) for i in range(min(own))] if own else []
    if not before:
        moments.append(run.created_at)
    elif all(sr is not None and sr.finished and sr.finished_at for sr in before):
        moments.append(max(sr.finished_at for sr in before))
    return min(moments) if moments else None


def phase_overruns(run, doc, now):
    """[(phase, deadline)] for phases that took longer than their budget, counted
    from the phase's own start (a drill whose fault is injected at minute 5 is not
    late on Detection for the Baseline's five minutes)."""
    if not run.created_at:
        return []
    open_phases = {s.phase for s in doc.steps if s.phase is not None}
    finished = {sr.index: sr for sr in run.steps.all()}
    result = []
    for phase in doc.phases:
        if phase.budget_end_min is None or phase.index not in open_phases:
            continue
        started = phase_started_at(run, doc, phase, finished)
        if started is None:
            continue
        deadline = started + phase_budget(phase, doc.phases)
        steps = [finished.get(s.index) for s in doc.steps if s.phase == phase.index]
        done_at = [sr.finished_at for sr in steps if sr and sr.finished]
        late = (len(done_at) < len(steps) and now > deadline) or any(at > deadline for at in done_at)
        if late:
            result.append((phase, deadline))
    return result


def _new_overruns(run, now):
    known = {item["phase"] for item in run.phase_overruns}
    return [{"phase": phase.index, "title": phase.title, "deadline": deadline.isoformat(), "at": now.isoformat()}
            for phase, deadline in phase_overruns(run, run.document(), now) if phase.index not in known]


def record_phase_overruns(now):
    count = 0
    for run in Run.objects.filter(status__in=(Run.RUNNING, Run.WAITING)).select_related("version"):
        if not _new_overruns(run, now):  # the cheap look, without a lock, for the common case
            continue
        with audit.atomic():
            locked = _lock(run.pk)
            locked.version = run.version
            # Decided again under the run's lock: another beat (or a worker standing in for
            # beat) may have recorded these since the look above.
            new = _new_overruns(locked, now) if locked.status in (Run.RUNNING, Run.WAITING) else []
            if not new:
                continue
            locked.phase_overruns = [*locked.phase_overruns, *new]
            locked.save(update_fields=["phase_overruns"])
            record("run.phase_overrun", obj=locked, after={"phases": [item["title"] for item in new]})
        count += len(new)
    return count
