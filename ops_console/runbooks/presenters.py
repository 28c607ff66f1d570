"""What the run and runbook pages show: the run's steps joined with their
parsed definitions, and which buttons this user may press."""
from dataclasses import dataclass, field

from django.db.models import Prefetch

from ops_console.ui.markdown import render as render_markdown

from . import engine
from .models import StepAttempt, StepRun



def earlier_attempts(step_run):
    """The kept attempts other than the one the step run shows (its latest, once started)."""
    shown = step_run.attempts if step_run.started_at else None
    return [attempt for attempt in step_run.attempt_records.all() if attempt.number != shown]


@dataclass
class StepView:
    run: StepRun
    step: object            # document.Step
    phase: object           # document.Phase | None
    explanation: str
    duration: float | None
    can_run: bool = False
    can_confirm: bool = False
    can_approve: bool = False
    can_skip: bool = False
    can_retry: bool = False
    is_starter_gate: bool = False   # an approval this user may not give (they started the run)
    earlier_attempts: list = field(default_factory=list)   # [StepAttempt] not the one the step shows
    held_by: list = field(default_factory=list)            # [StepRun] open checklist items it waits for

    @property
    def number(self):
        return self.run.index + 1


def run_view(run, user, now):
    doc = run.document()
    phases = {phase.index: phase for phase in doc.phases}
    attempts = StepAttempt.objects.select_related("confirmed_by").order_by("number")
    step_runs = list(run.steps.select_related("confirmed_by", "approved_by")
                     .prefetch_related(Prefetch("attempt_records", queryset=attempts)))
    may_confirm = user.has_perm("runbooks.confirm_step")
    may_approve = user.has_perm("runbooks.approve_step")
    starter = run.started_by_id == user.pk
    blocking = engine.blocking_step(step_runs, doc)
    blocking = blocking.index if blocking is not None else None
    held = engine.held_back_by(step_runs, doc)
    views = []
    for step_run in step_runs:
        step = doc.steps[step_run.index]
        duration = step_run.duration
        if duration is None and step_run.status == StepRun.RUNNING and step_run.started_at:
            duration = (now - step_run.started_at).total_seconds()
        view = StepView(step_run, step, phases.get(step.phase), render_markdown(step.explanation), duration,
                        earlier_attempts=earlier_attempts(step_run), held_by=held.get(step_run.index, []))
        waiting = step_run.status == StepRun.WAITING and not run.finished
        human = step.kind in ("approval", "manual")
        view.can_run = waiting and not human and may_confirm
        view.can_confirm = waiting and step.kind == "manual" and may_confirm
        gate = waiting and step.kind == "approval"
        view.can_approve = gate and may_approve and not starter
        view.is_starter_gate = gate and starter
        view.can_skip = may_confirm and (waiting or (run.status == "failed" and step_run.status == StepRun.FAILED)) \
            and (step.kind != "approval" or view.can_approve)
        view.can_retry = (may_confirm and run.status == "failed" and step_run.finished
                          and blocking is not None and step_run.index <= blocking)
        views.append(view)
    overruns = {phase.index for phase, _ in engine.phase_overruns(run, doc, now)}
    return {
        "run": run, "doc": doc, "steps": views, "overrun_phases": overruns,
        "phases": [(phase, phase.index in overruns) for phase in doc.phases],
        "can_cancel": user.has_perm("runbooks.cancel_run") and not run.finished,
        "incident": run.context.get("incident"),
    }
