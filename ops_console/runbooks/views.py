"""Runbook and run pages. Views parse the request, check permission, call the
engine or the library, and render; the live run page polls one partial."""
import difflib
import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from ops_console.audit.models import AuditEntry
from ops_console.ui.access import require
from ops_console.ui.markdown import render as render_markdown

from . import engine, importer, library, live_output
from .models import Run, Runbook, RunbookVersion, StepRun
from .presenters import run_view

PER_PAGE = 25
INCIDENT_REF = re.compile(r"^[A-Z][A-Z0-9]{0,15}-\d{1,10}$")


@require("runbooks.view_runbook")
def index(request):
    q = request.GET.get("q", "").strip()
    service, kind, alert = (request.GET.get(name, "").strip() for name in ("service", "kind", "alert"))
    runbooks = Runbook.objects.filter(archived=False).select_related("current_version")
    if q:
        runbooks = runbooks.filter(Q(title__icontains=q) | Q(slug__icontains=q))
    if kind:
        runbooks = runbooks.filter(kind=kind)
    if service:
        runbooks = runbooks.filter(services__contains=[service])
    if alert:
        # Alert names match in any case: one element of the JSON list, lower-cased on both sides.
        runbooks = runbooks.filter(RawSQL(
            "EXISTS (SELECT 1 FROM jsonb_array_elements_text(runbooks_runbook.alerts) AS name "
            "WHERE lower(name) = lower(%s))", [alert], output_field=BooleanField()))
    all_services = sorted({s for rb in Runbook.objects.filter(archived=False) for s in rb.services})
    page = Paginator(runbooks, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "runbooks/index.html", {
        "page": page, "q": q, "service": service, "kind": kind, "alert": alert, "services": all_services,
        "kinds": [k for k, _ in Runbook._meta.get_field("kind").choices], "filtered": any((q, service, kind, alert)),
    })


def _runbook(slug):
    return get_object_or_404(Runbook.objects.select_related("current_version"), slug=slug)


def _version(runbook, number):
    if number in (None, ""):
        if runbook.current_version is None:
            raise Http404("This runbook has no version yet.")
        return runbook.current_version
    try:
        return runbook.versions.get(number=int(number))
    except (ValueError, RunbookVersion.DoesNotExist):
        raise Http404("No such version.") from None


@require("runbooks.view_runbook")
def detail(request, slug):
    runbook = _runbook(slug)
    version = _version(runbook, request.GET.get("version"))
    doc = version.parsed()
    phases = {phase.index: phase for phase in doc.phases}
    return render(request, "runbooks/detail.html", {
        "runbook": runbook, "version": version, "doc": doc, "body": render_markdown(version.source),
        "steps": [(step, phases.get(step.phase), engine.needs_person(step)) for step in doc.steps],
        "versions": runbook.versions.select_related("created_by").order_by("-number"),
        "recent_runs": runbook.runs.select_related("started_by", "version")[:10],
    })


@require("runbooks.view_runbookversion")
def diff(request, slug):
    runbook = _runbook(slug)
    newer = _version(runbook, request.GET.get("to"))
    older_number = request.GET.get("from") or max(newer.number - 1, 1)
    older = _version(runbook, older_number)
    lines = difflib.unified_diff(older.source.splitlines(), newer.source.splitlines(),
                                 fromfile=f"v{older.number}", tofile=f"v{newer.number}", lineterm="")
    classes = {"+": "add", "-": "del", "@": "hunk"}
    rows = [(classes.get(line[:1], ""), line) for line in lines]
    return render(request, "runbooks/diff.html", {"runbook": runbook, "older": older, "newer": newer, "rows": rows,
                                                  "versions": runbook.versions.order_by("-number")})


@require("runbooks.change_runbook")
def edit(request, slug):
    runbook = _runbook(slug)
    text = runbook.current_version.source if runbook.current_version else ""
    problems = []
    if request.method == "POST":
        text = request.POST.get("source", "").replace("\r\n", "\n")
        if runbook.current_version and runbook.current_version.document.get("imported"):
            saved = importer.save_edit(text, runbook=runbook, actor=request.user)   # its own front matter is kept
        else:
            saved = library.save_text(text, slug=runbook.slug, path=runbook.source_path, actor=request.user)
        problems = saved.problems
        for note in saved.notes:   # promtool missing: saved, but the PromQL was not checked
            messages.warning(request, note)
        if saved.status == library.UNCHANGED:
            messages.info(request, "Nothing changed: the text is the current version.")
            return redirect(runbook)
        if saved.status != library.INVALID:
            messages.success(request, f"Saved as version {saved.version.number}.")
            return redirect(runbook)
    return render(request, "runbooks/edit.html", {"runbook": runbook, "source": text, "problems": problems},
                  status=400 if problems and request.method == "POST" else 200)


def _parameter_errors(errors):
    """params.validate's errors as {name: message} plus general messages."""
    if isinstance(errors, dict):
        return errors, []
    by_name, general = {}, []
    for error in errors or []:
        name = getattr(error, "name", None) or (error[0] if isinstance(error, tuple) else None)
        message = getattr(error, "message", None) or (error[1] if isinstance(error, tuple) else str(error))
        if name:
            by_name[name] = message
        else:
            general.append(message)
    return by_name, general


@require("runbooks.start_run")
def start(request, slug):
    from . import params

    runbook = _runbook(slug)
    if runbook.archived or runbook.current_version is None:
        messages.error(request, "This runbook is archived and cannot be started.")
        return redirect(runbook)
    version = runbook.current_version
    doc = version.parsed()
    source = request.POST if request.method == "POST" else request.GET
    incident = source.get("incident", "").strip()
    # A secret comes only in the body of the POST, never from a link (it would be in logs and history).
    raw = {p.name: (request.POST if p.type == "secret" else source).get(p.name, "") for p in doc.parameters}
    errors, general = {}, []
    if incident and not INCIDENT_REF.match(incident):
        general.append(f"{incident!r} is not an incident reference like INC-42.")
    if request.method == "POST":
        for p in doc.parameters:
            if p.type == "bool":
                raw[p.name] = "true" if source.get(p.name) else "false"
        values, param_errors = params.validate(doc.parameters, raw)
        errors, more = _parameter_errors(param_errors)
        general += more
        if not errors and not general:
            run = engine.start_run(version, values, actor=request.user,
                                   context={"incident": incident} if incident else {})
            return redirect(run)
    fields = [{"param": p, "value": raw[p.name] if request.method == "POST" else
               (source.get(p.name) if source.get(p.name) not in (None, "") else p.default),
               "error": errors.get(p.name)} for p in doc.parameters]
    return render(request, "runbooks/start.html", {
        "runbook": runbook, "version": version, "doc": doc, "fields": fields, "incident": incident,
        "general_errors": general}, status=400 if errors or general else 200)


@require("runbooks.view_run")
def runs(request):
    status, slug, incident = (request.GET.get(name, "").strip() for name in ("status", "runbook", "incident"))
    queryset = Run.objects.select_related("runbook", "version", "started_by")
    if status:
        queryset = queryset.filter(status=status)
    if slug:
        queryset = queryset.filter(runbook__slug=slug)
    if incident:
        queryset = queryset.filter(context__incident=incident)
    page = Paginator(queryset, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "runbooks/runs.html", {"page": page, "status": status, "runbook_slug": slug,
                                                  "incident": incident, "statuses": [s for s, _ in Run.STATUSES]})


@require("runbooks.view_run")
def run(request, pk):
    run = get_object_or_404(Run.objects.select_related("runbook", "version", "started_by"), pk=pk)
    context = run_view(run, request.user, timezone.now())
    # A running step shows what was streamed so far, with its offset; the page streams the rest.
    context["live_output"] = live_output.for_page(context["steps"])
    if request.htmx:
        content = render_to_string("runbooks/partials/run_body.html", context, request)
        # A finished run changes no more: htmx stops polling on this response's status (286).
        return HttpResponseStopPolling(content) if run.finished else HttpResponse(content)
    # The run's record for auditors: what was logged about it (the page polls only run_body).
    context["entries"] = (AuditEntry.objects.filter(object_type="runbooks.run", object_id=str(run.pk))
                          .order_by("id")[:200])
    return render(request, "runbooks/run.html", context)


def _step_action(action, success):
    """A POST-only view for one step action: look up the step, call the engine,
    say what happened, go back to the run page."""

    @require_POST
    def view(request, pk, number):
        step_run = get_object_or_404(StepRun, run_id=pk, index=number - 1)
        try:
            action(step_run.pk, actor=request.user)
            messages.success(request, success.format(n=number))
        except engine.ActionRefused as exc:
            messages.error(request, str(exc))
        return redirect("runbooks:run", pk=pk)

    return view


run_step = require("runbooks.confirm_step")(_step_action(engine.do_run_step, "Step {n} is queued."))
confirm_step = require("runbooks.confirm_step")(_step_action(engine.do_confirm, "Step {n} confirmed."))
skip_step = require("runbooks.confirm_step")(_step_action(engine.do_skip, "Step {n} skipped."))
retry_step = require("runbooks.confirm_step")(_step_action(engine.do_retry, "Retrying from step {n}."))
approve_step = require("runbooks.approve_step")(_step_action(engine.do_approve, "Step {n} approved."))
reject_step = require("runbooks.approve_step")(_step_action(engine.do_reject, "Step {n} rejected."))


@require("runbooks.cancel_run")
@require_POST
def cancel(request, pk):
    run = get_object_or_404(Run, pk=pk)
    try:
        engine.do_cancel(run.pk, actor=request.user)
        messages.success(request, "The run was cancelled.")
    except engine.ActionRefused as exc:
        messages.error(request, str(exc))
    return redirect(run)
