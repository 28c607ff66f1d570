"""/api/v1/runbooks and /api/v1/runs: the library, starting a run (validated as
the Start page validates), a run with each step's attempts, and the step actions
through the engine's do_* functions."""
from datetime import datetime

from django.db.models import BooleanField, Prefetch, Q
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja import Status as Answer

from ops_console.runbooks import engine, params
from ops_console.runbooks.models import Run, Runbook, RunbookVersion, StepAttempt, StepRun

from .auth import Needs
from .errors import ApiError
from .paging import DEFAULT_LIMIT, page_of

router = Router(tags=["runbooks"])
# The Start page's rule for the incident a run is for (runbooks/views.py).
INCIDENT_REF = r"^[A-Z][A-Z0-9]{0,15}-\d{1,10}$"


class RunbookOut(Schema):
    slug: str
    title: str
    kind: str
    services: list
    alerts: list
    current_version: int | None


class RunbookPage(Schema):
    items: list[RunbookOut]
    next: int | None


class ParameterOut(Schema):
    name: str
    type: str
    required: bool
    default: object = None
    choices: list
    description: str


class StepOut(Schema):
    number: int
    kind: str
    title: str
    needs_person: bool


class VersionOut(Schema):
    runbook: str
    number: int
    title: str
    created_at: datetime
    source: str
    parameters: list[ParameterOut]
    steps: list[StepOut]


class StartIn(Schema):
    parameters: dict = Field(default_factory=dict, description="name: value; checked as the Start page checks them")
    incident: str | None = Field(None, pattern=INCIDENT_REF, description="the incident the run is for, e.g. INC-42")


class AttemptOut(Schema):
    number: int
    status: str
    command: str
    output: str
    output_cut: int
    exit_code: int | None
    error: str
    started_at: datetime | None
    finished_at: datetime | None


class StepRunOut(Schema):
    number: int
    kind: str
    title: str
    status: str
    attempts: int
    command: str
    output: str
    output_cut: int
    exit_code: int | None
    error: str
    started_at: datetime | None
    finished_at: datetime | None
    attempt_history: list[AttemptOut]


class RunOut(Schema):
    id: int
    runbook: str
    version: int
    status: str
    parameters: dict = Field(description="secret parameters are masked")
    context: dict
    started_by: str | None
    created_at: datetime
    finished_at: datetime | None
    error: str
    finished: bool
    url: str
    steps: list[StepRunOut]


def runbook_out(runbook):
    return {"slug": runbook.slug, "title": runbook.title, "kind": runbook.kind, "services": runbook.services,
            "alerts": runbook.alerts,
            "current_version": runbook.current_version.number if runbook.current_version_id else None}


class RunbookFilters(Schema):
    q: str = Field("", description="words in the title or slug")
    kind: str = Field("", description="runbook, playbook or checklist")
    service: str = Field("", description="a service slug the runbook is for")
    alert: str = Field("", description="an alert name the runbook answers (its `alerts`), in any case, "
                                       "e.g. HighErrorRate")
    cursor: int | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=200)


@router.get("/runbooks", response=RunbookPage, summary="List runbooks (the library page's filters)",
            auth=Needs("runbooks.view_runbook"))
def list_runbooks(request, filters: Query[RunbookFilters]):
    q, kind, service, alert = (getattr(filters, name).strip() for name in ("q", "kind", "service", "alert"))
    runbooks = Runbook.objects.filter(archived=False).select_related("current_version")
    if q:
        runbooks = runbooks.filter(Q(title__icontains=q) | Q(slug__icontains=q))
    if kind:
        runbooks = runbooks.filter(kind=kind)
    if service:
        runbooks = runbooks.filter(services__contains=[service])
    if alert:
        # As the library page (runbooks/views.py index) matches: one element of the JSON list, in any case.
        runbooks = runbooks.filter(RawSQL(
            "EXISTS (SELECT 1 FROM jsonb_array_elements_text(runbooks_runbook.alerts) AS name "
            "WHERE lower(name) = lower(%s))", [alert], output_field=BooleanField()))
    items, next_cursor = page_of(runbooks, filters.cursor, filters.limit)
    return {"items": [runbook_out(r) for r in items], "next": next_cursor}


def _runbook(slug):
    return get_object_or_404(Runbook.objects.select_related("current_version"), slug=slug)


def parameter_out(p):
    # A secret's default is as secret as its value.
    default = params.MASK if p.type == "secret" and p.default not in (None, "") else p.default
    return {"name": p.name, "type": p.type, "required": p.required, "default": default, "choices": p.choices,
            "description": p.description}


@router.get("/runbooks/{slug}", response=VersionOut, summary="Read a runbook's current version",
            auth=Needs("runbooks.view_runbook"))
def read_runbook(request, slug: str):
    runbook = _runbook(slug)
    if runbook.current_version is None:
        raise Http404("This runbook has no version yet.")
    return version_out(runbook.current_version)


@router.get("/runbooks/{slug}/versions/{number}", response=VersionOut, summary="Read one version of a runbook",
            auth=Needs("runbooks.view_runbook", "runbooks.view_runbookversion"))
def read_version(request, slug: str, number: int):
    version = get_object_or_404(RunbookVersion.objects.select_related("runbook"), runbook__slug=slug, number=number)
    return version_out(version)


def version_out(version):
    doc = version.parsed()
    return {"runbook": version.runbook.slug, "number": version.number, "title": doc.title,
            "created_at": version.created_at, "source": version.source,
            "parameters": [parameter_out(p) for p in doc.parameters],
            "steps": [{"number": s.index + 1, "kind": s.kind, "title": s.title, "needs_person": engine.needs_person(s)}
                      for s in doc.steps]}


def _as_submitted(param, value):
    """A JSON value as the Start page's form would submit it, so params.validate
    checks it the same way (a checkbox is "true"/"false", everything else text)."""
    if param is not None and param.type == "bool":
        return "true" if value is True or str(value).lower() in ("true", "1", "yes", "on") else "false"
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@router.post("/runbooks/{slug}/runs", response={201: RunOut}, summary="Start a run of the current version",
             auth=Needs("runbooks.start_run", write=True))
def start_run(request, slug: str, payload: StartIn):
    runbook = _runbook(slug)
    if runbook.archived or runbook.current_version is None:
        raise ApiError(409, "This runbook is archived and cannot be started.")
    version = runbook.current_version
    doc = version.parsed()
    declared = {p.name: p for p in doc.parameters}
    raw = {name: _as_submitted(declared.get(name), value) for name, value in payload.parameters.items()}
    for p in doc.parameters:
        if p.type == "bool":
            raw[p.name] = _as_submitted(p, payload.parameters.get(p.name))
        else:
            raw.setdefault(p.name, "")
    values, errors = params.validate(doc.parameters, raw)
    if errors:
        # Which parameter and why, never the value (it may be a secret).
        raise ApiError(400, "The parameters are not valid.",
                       [{"field": f"parameters.{name}", "reason": message} for name, message in sorted(errors.items())])
    run = engine.start_run(version, values, actor=request.user,
                           context={"incident": payload.incident} if payload.incident else {})
    return Answer(201, run_out(load_run(run.pk)))


def load_run(pk):
    attempts = Prefetch("attempt_records", queryset=StepAttempt.objects.order_by("number"))
    steps = Prefetch("steps", queryset=StepRun.objects.order_by("index").prefetch_related(attempts))
    return get_object_or_404(Run.objects.select_related("runbook", "version", "started_by").prefetch_related(steps),
                             pk=pk)


def _attempt_out(a):
    return {"number": a.number, "status": a.status, "command": a.command, "output": a.output,
            "output_cut": a.output_cut, "exit_code": a.exit_code, "error": a.error, "started_at": a.started_at,
            "finished_at": a.finished_at}


def run_out(run):
    return {
        "id": run.pk, "runbook": run.runbook.slug, "version": run.version.number, "status": run.status,
        "parameters": run.parameters, "context": run.context,
        "started_by": run.started_by.get_username() if run.started_by_id else None,
        "created_at": run.created_at, "finished_at": run.finished_at, "error": run.error, "finished": run.finished,
        "url": run.get_absolute_url(),
        "steps": [{"number": s.index + 1, "kind": s.kind, "title": s.title, "status": s.status, "attempts": s.attempts,
                   "command": s.command, "output": s.output, "output_cut": s.output_cut, "exit_code": s.exit_code,
                   "error": s.error, "started_at": s.started_at, "finished_at": s.finished_at,
                   "attempt_history": [_attempt_out(a) for a in s.attempt_records.all()]}
                  for s in run.steps.all()],
    }


class RunSummary(Schema):
    id: int
    runbook: str
    version: int
    status: str
    started_by: str | None
    created_at: datetime
    finished_at: datetime | None
    incident: str | None
    url: str


class RunPage(Schema):
    items: list[RunSummary]
    next: int | None


@router.get("/runs", response=RunPage, summary="List runs, newest first", auth=Needs("runbooks.view_run"))
def list_runs(request, status: str = "", runbook: str = "", incident: str = "", cursor: int | None = None,
              limit: int = Query(DEFAULT_LIMIT, ge=1, le=200)):
    runs = Run.objects.select_related("runbook", "version", "started_by")
    if status:
        runs = runs.filter(status=status)
    if runbook:
        runs = runs.filter(runbook__slug=runbook)
    if incident:
        runs = runs.filter(context__incident=incident)
    items, next_cursor = page_of(runs, cursor, limit)
    return {"items": [{"id": r.pk, "runbook": r.runbook.slug, "version": r.version.number, "status": r.status,
                       "started_by": r.started_by.get_username() if r.started_by_id else None,
                       "created_at": r.created_at, "finished_at": r.finished_at,
                       "incident": (r.context or {}).get("incident"), "url": r.get_absolute_url()} for r in items],
            "next": next_cursor}


@router.get("/runs/{run_id}", response=RunOut, summary="Read a run: its steps and each attempt's output",
            auth=Needs("runbooks.view_run"))
def read_run(request, run_id: int):
    return run_out(load_run(run_id))


# The run page's step buttons: action → (engine function, permission), as runbooks/views.py wires them.
STEP_ACTIONS = {
    "run": (engine.do_run_step, "runbooks.confirm_step"),
    "confirm": (engine.do_confirm, "runbooks.confirm_step"),
    "skip": (engine.do_skip, "runbooks.confirm_step"),
    "retry": (engine.do_retry, "runbooks.confirm_step"),
    "approve": (engine.do_approve, "runbooks.approve_step"),
    "reject": (engine.do_reject, "runbooks.approve_step"),
}


def _step_endpoint(name, perform, perm):
    def endpoint(request, run_id: int, number: int):
        step_run = get_object_or_404(StepRun, run_id=run_id, index=number - 1)
        try:
            perform(step_run.pk, actor=request.user)
        except engine.ActionRefused as exc:
            raise ApiError(409, str(exc)) from None
        return run_out(load_run(run_id))

    endpoint.__name__ = f"{name}_step"
    router.post(f"/runs/{{run_id}}/steps/{{number}}/{name}", response=RunOut, summary=f"{name.capitalize()} a step",
                operation_id=f"{name}_step", auth=Needs(perm, write=True))(endpoint)


for _name, (_perform, _perm) in STEP_ACTIONS.items():
    _step_endpoint(_name, _perform, _perm)


@router.post("/runs/{run_id}/cancel", response=RunOut, summary="Cancel a run",
             auth=Needs("runbooks.cancel_run", write=True))
def cancel_run(request, run_id: int):
    run = get_object_or_404(Run, pk=run_id)
    try:
        engine.do_cancel(run.pk, actor=request.user)
    except engine.ActionRefused as exc:
        raise ApiError(409, str(exc)) from None
    return run_out(load_run(run_id))
