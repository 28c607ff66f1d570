"""Builders for runbook tests: documents made from dataclasses (no parser
needed), versions in the database, and a driver that plays the worker."""
import itertools

from ops_console.runbooks import engine
from ops_console.runbooks.document import Parameter, Phase, RunbookDocument, Step
from ops_console.runbooks.models import Runbook, RunbookVersion, StepRun, sha256_of

_numbers = itertools.count(1)


def step(kind, body="", **kw):
    """step("shell", "echo hi", auto=True) -> a Step; index is set by make_doc."""
    kw.setdefault("title", f"{kind} step")
    kw.setdefault("auto", kind in ("promql", "wait") or (kind == "http" and body.split()[:1] == ["GET"]))
    return Step(index=0, kind=kind, body=body, **kw)


def shell(body, **kw):
    kw.setdefault("auto", True)
    return step("shell", body, **kw)


def make_doc(*steps, parameters=(), phases=(), slug=None):
    slug = slug or f"test-runbook-{next(_numbers)}"
    for index, s in enumerate(steps):
        s.index = index
    return RunbookDocument(slug=slug, title=slug.replace("-", " ").title(), steps=list(steps),
                           parameters=list(parameters), phases=list(phases))


def make_version(doc, source=None):
    """A Runbook with `doc` as its current version."""
    runbook, _ = Runbook.objects.get_or_create(slug=doc.slug, defaults={"title": doc.title})
    source = source or f"# {doc.title}\n\n{next(_numbers)}\n"
    number = runbook.versions.count() + 1
    version = RunbookVersion.objects.create(runbook=runbook, number=number, source=source, sha256=sha256_of(source),
                                            document=doc.to_json())
    runbook.current_version = version
    runbook.save(update_fields=["current_version"])
    return version


def start(*steps, actor=None, parameters=None, values=None, phases=(), context=None):
    """Start a run of a runbook made of `steps` -> Run."""
    version = make_version(make_doc(*steps, parameters=parameters or (), phases=phases))
    return engine.start_run(version, values or {}, actor=actor, context=context)


def drive(run):
    """Play the worker: execute queued steps until none is left (synchronously)."""
    while True:
        queued = StepRun.objects.filter(run=run, status=StepRun.QUEUED).order_by("index").first()
        if queued is None:
            run.refresh_from_db()
            return run
        engine.execute_step(queued.pk)


def statuses(run):
    return list(run.steps.order_by("index").values_list("status", flat=True))
