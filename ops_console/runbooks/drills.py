"""Drills as measured experiments. A runbook with `targets:` in its front matter
is a drill; each run of it keeps a DrillResult: the moments the fault was
injected (T0) and removed (T1), detected and recovered, taken from the step
that observed them (marks=<event>) or else from the click on the checklist item
"<Label>: ...", and the verdict per target.

Definitions (runbooks/README.md, *Drills*): detection = detected - T0;
recovery = recovered - T0, or recovered - T1 with `recovery_from: fault_removed`
(report 004's "full recovery within 60 seconds after chaos ends").
The result follows the run (recomputed from its steps whenever one finishes,
inside the run's lock), so a retried step's new time replaces the old one."""
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from ops_console.audit.log import record

from . import engine, signals
from .document import DRILL_EVENTS
from .models import DrillResult, Run, RunbookVersion, StepRun

FAULT_INJECTED, FAULT_REMOVED, DETECTED, RECOVERED = DRILL_EVENTS
# A checklist item that starts with one of these words (then ":" or "(") records the event when ticked.
LABELS = {"fault injected": FAULT_INJECTED, "fault removed": FAULT_REMOVED, "detected": DETECTED,
          "recovered": RECOVERED}
LABEL_RE = re.compile(r"^\s*(?P<label>fault injected|fault removed|detected|recovered)\s*[:(]", re.I)
# What a DrillResult keeps per event and where the seconds count from.
EVENT_FIELDS = {FAULT_INJECTED: "fault_injected_at", FAULT_REMOVED: "fault_removed_at", DETECTED: "detected_at",
                RECOVERED: "recovered_at"}


@dataclass
class Event:
    name: str
    at: object          # aware datetime
    by: str             # "step": observed by a step; "click": a person ticked the item
    step: int           # 1-based step number
    user: str = ""

    def to_json(self):
        return {"at": self.at.isoformat(), "by": self.by, "step": self.step, "user": self.user}


def marked_event(step):
    """The event a step records, or None: marks=<event> on a step, or the label
    that starts a checklist item."""
    if step.kind == "manual":
        match = LABEL_RE.match(step.body)
        return LABELS[match.group("label").lower()] if match else None
    mark = step.attrs.get("marks")
    return mark if mark in DRILL_EVENTS else None


def observed_at(step, step_run):
    """When a step observed its event: a condition wait found the condition true
    `for` before it finished (at the evaluation that first saw it, so within its
    `interval`); any other step when it finished (an injecting command has
    returned); a checklist item when it was ticked."""
    if step.kind == "manual":
        return step_run.confirmed_at
    if step_run.finished_at is None:
        return None
    if step.kind == "wait" and step.body.strip() and step.hold_for:
        return step_run.finished_at - timedelta(seconds=step.hold_for)
    return step_run.finished_at


def events(doc, step_runs):
    """{event: Event} from the run's steps: the first step in the document that
    observed it and succeeded; else the first checklist item ticked for it."""
    observed, clicked = {}, {}
    for step in doc.steps:
        name = marked_event(step)
        step_run = step_runs.get(step.index)
        if name is None or step_run is None or step_run.status != StepRun.SUCCEEDED:
            continue
        at = observed_at(step, step_run)
        if at is None:
            continue
        if step.kind == "manual":
            who = step_run.confirmed_by.get_username() if step_run.confirmed_by_id else ""
            clicked.setdefault(name, Event(name, at, "click", step.index + 1, who))
        else:
            observed.setdefault(name, Event(name, at, "step", step.index + 1))
    return {**clicked, **observed}


def seconds_between(start, end):
    if start is None or end is None:
        return None
    return (end.at - start.at).total_seconds()


def judge(seconds, target, finished):
    """True met, False missed, None: no target, or not measured yet while the run goes on."""
    if target is None:
        return None
    if seconds is None:
        return False if finished else None
    return seconds <= target


def measure(run, doc, step_runs, *, finished_at=None):
    """The fields of the run's DrillResult, computed from its steps."""
    targets = doc.targets
    found = events(doc, step_runs)
    t0 = found.get(FAULT_INJECTED)
    detection = seconds_between(t0, found.get(DETECTED))
    origin = found.get(FAULT_REMOVED) if targets.get("recovery_from") == FAULT_REMOVED else t0
    recovery = seconds_between(origin, found.get(RECOVERED))
    finished = finished_at is not None
    detection_met = judge(detection, targets.get("detection"), finished)
    recovery_met = judge(recovery, targets.get("recovery"), finished)
    verdicts = [v for v in (detection_met, recovery_met) if v is not None]
    passed = (all(verdicts) and run.status == Run.SUCCEEDED) if finished else None
    fields = {"targets": targets, "events": {name: event.to_json() for name, event in found.items()},
              "detection_seconds": detection, "recovery_seconds": recovery, "detection_met": detection_met,
              "recovery_met": recovery_met, "passed": passed, "finished_at": finished_at}
    for name, field in EVENT_FIELDS.items():
        fields[field] = found[name].at if name in found else None
    if finished:
        fields["over_budget"] = [phase.title for phase, _ in engine.phase_overruns(run, doc, finished_at)]
    return fields


def keep_result(run, *, finished_at=None):
    """Create or update the run's DrillResult (the caller holds the run's lock)."""
    doc = run.document()
    if not doc.targets:
        return None
    step_runs = {sr.index: sr for sr in run.steps.select_related("confirmed_by")}
    fields = measure(run, doc, step_runs, finished_at=finished_at)
    result, _ = DrillResult.objects.update_or_create(run=run, defaults={**fields, "runbook_id": run.runbook_id})
    if finished_at is not None:
        record("drill.measured", obj=run, after={
            "runbook": run.runbook.slug, "passed": result.passed, "targets": result.targets,
            "detection_seconds": result.detection_seconds, "recovery_seconds": result.recovery_seconds,
            "over_budget": result.over_budget})
    return result


@lru_cache(maxsize=2048)
def version_is_drill(version_id):
    """Versions never change, so this is asked of the database once per version
    and process: every step of every run passes here."""
    targets = RunbookVersion.objects.filter(pk=version_id).values_list("document__targets", flat=True).first()
    return bool(targets)


def _run_started(sender, run, **kwargs):
    if version_is_drill(run.version_id):
        keep_result(run)


def _step_finished(sender, step_run, **kwargs):
    if version_is_drill(step_run.run.version_id):
        run = Run.objects.select_related("version", "runbook").get(pk=step_run.run_id)
        if not run.finished:
            keep_result(run)


def _run_finished(sender, run, **kwargs):
    if version_is_drill(run.version_id):
        keep_result(Run.objects.select_related("version", "runbook").get(pk=run.pk), finished_at=run.finished_at)


def connect():
    """Listen to the engine (RunbooksConfig.ready)."""
    signals.run_started.connect(_run_started, dispatch_uid="drills.run_started")
    signals.step_finished.connect(_step_finished, dispatch_uid="drills.step_finished")
    signals.run_finished.connect(_run_finished, dispatch_uid="drills.run_finished")


# --- what the pages show ----------------------------------------------------

def results_for_service(slug, limit=10):
    """The latest results of drills that name this service."""
    return list(DrillResult.objects.filter(runbook__services__contains=[slug])
                .select_related("runbook", "run").order_by("-run__created_at")[:limit])


@dataclass
class DrillTrend:
    runbook: object
    results: list            # oldest first
    targets: dict

    @property
    def latest(self):
        return self.results[-1] if self.results else None

    @property
    def judged(self):
        return [r for r in self.results if r.passed is not None]

    @property
    def pass_rate(self):
        judged = self.judged
        return sum(1 for r in judged if r.passed) / len(judged) if judged else None

    def series(self, name):
        """[(run id, seconds)] of detection or recovery, oldest first: the trend."""
        return [(r.run_id, getattr(r, f"{name}_seconds")) for r in self.results
                if getattr(r, f"{name}_seconds") is not None]

    def change(self, name):
        """Latest minus the mean of the earlier measurements (negative: faster), or None."""
        values = [s for _, s in self.series(name)]
        if len(values) < 2:
            return None
        return values[-1] - sum(values[:-1]) / len(values[:-1])


def trends(results):
    """[DrillTrend] per runbook, from DrillResults (any order), by title."""
    by_runbook = {}
    for result in sorted(results, key=lambda r: r.run.created_at):
        trend = by_runbook.setdefault(result.runbook_id, DrillTrend(result.runbook, [], result.targets))
        trend.results.append(result)
        trend.targets = result.targets
    return sorted(by_runbook.values(), key=lambda t: t.runbook.title)
