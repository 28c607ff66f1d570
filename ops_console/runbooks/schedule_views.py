"""Schedule pages: everyone who reads runbooks sees the schedules; admins
create, change, turn on and off, and delete them. The rules live in schedules.py."""
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ops_console.ui.access import require

from . import schedules
from .models import Runbook, Schedule

EXAMPLES = [("0 2 * * 1", "Mondays at 02:00"), ("0 9 * * 1-5", "weekdays at 09:00"),
            ("*/15 * * * *", "every 15 minutes"), ("0 4 1 * *", "the 1st of each month at 04:00")]


def _rows(queryset):
    rows = []
    for schedule in queryset:
        local = None
        if schedule.next_due_at:
            # Formatted here: the template's date filter would turn it back into the viewer's zone.
            local = schedule.next_due_at.astimezone(ZoneInfo(schedule.time_zone)).strftime("%a %Y-%m-%d %H:%M")
        rows.append({"schedule": schedule, "words": schedules.explain(schedule.cron), "local": local})
    return rows


@require("runbooks.view_runbook")
def index(request):
    slug = request.GET.get("runbook", "").strip()
    queryset = Schedule.objects.select_related("runbook", "last_run", "created_by")
    runbook = None
    if slug:
        runbook = get_object_or_404(Runbook, slug=slug)
        queryset = queryset.filter(runbook=runbook)
    return render(request, "runbooks/schedules.html", {"rows": _rows(queryset), "runbook": runbook})


def _runbooks():
    return Runbook.objects.filter(archived=False, current_version__isnull=False).order_by("title")


def _posted(request, parameters):
    """The form's values as typed, and the parameter values by name."""
    values = {name: request.POST.get(name, "").strip() for name in ("name", "cron", "time_zone", "on_missed")}
    values["enabled"] = bool(request.POST.get("enabled"))
    raw = {p.name: request.POST.get(f"param-{p.name}", "") for p in parameters if p.type != "secret"}
    return values, raw


def _form(request, *, runbook, values, raw, schedule=None, errors=None, parameter_errors=None, status=200):
    parameters = runbook.current_version.parsed().parameters if runbook and runbook.current_version else []
    fields = [{"param": p, "value": raw.get(p.name, ""), "error": (parameter_errors or {}).get(p.name)}
              for p in parameters]
    return render(request, "runbooks/schedule_form.html", {
        "schedule": schedule, "runbook": runbook, "values": values, "fields": fields, "errors": errors or {},
        "unknown_errors": {name: message for name, message in (parameter_errors or {}).items()
                           if name not in {p.name for p in parameters}},
        "on_missed_choices": Schedule.ON_MISSED, "examples": EXAMPLES, "time_zones": sorted(schedules.time_zones()),
        "runbooks": _runbooks() if runbook is None else None,
    }, status=status)


@require("runbooks.add_schedule")
def new(request):
    slug = (request.POST if request.method == "POST" else request.GET).get("runbook", "").strip()
    runbook = _runbooks().select_related("current_version").filter(slug=slug).first() if slug else None
    values = {"name": "", "cron": "", "time_zone": "UTC", "on_missed": Schedule.RUN_ONCE_LATE, "enabled": True}
    if runbook is None:
        # First pick the runbook: its parameters make the rest of the form.
        errors = {"runbook": f"no runbook {slug!r} that can run"} if slug else {}
        return _form(request, runbook=None, values=values, raw={}, errors=errors, status=400 if slug else 200)
    if request.method != "POST":
        return _form(request, runbook=runbook, values={**values, "name": runbook.title}, raw={})
    parameters = runbook.current_version.parsed().parameters
    values, raw = _posted(request, parameters)
    try:
        schedule = schedules.do_create_schedule(runbook=runbook, parameters=raw, acting_user=request.user,
                                                **values)
    except schedules.ScheduleInvalid as exc:
        return _form(request, runbook=runbook, values=values, raw=raw, errors=exc.errors,
                     parameter_errors=exc.parameter_errors, status=400)
    messages.success(request, f"Schedule {schedule.name!r} saved."
                              + (f" Next run: {schedule.next_due_at:%Y-%m-%d %H:%M} UTC." if schedule.enabled else ""))
    return redirect("runbooks:schedules")


@require("runbooks.change_schedule")
def edit(request, pk):
    schedule = get_object_or_404(Schedule.objects.select_related("runbook__current_version"), pk=pk)
    runbook = schedule.runbook
    if request.method != "POST":
        values = {name: getattr(schedule, name) for name in ("name", "cron", "time_zone", "on_missed", "enabled")}
        raw = {name: ("true" if value is True else "false" if value is False else str(value))
               for name, value in schedule.parameters.items()}
        return _form(request, runbook=runbook, values=values, raw=raw, schedule=schedule)
    parameters = runbook.current_version.parsed().parameters if runbook.current_version else []
    values, raw = _posted(request, parameters)
    values["enabled"] = schedule.enabled   # turned on and off by its own buttons
    try:
        schedules.do_update_schedule(schedule.pk, parameters=raw, acting_user=request.user,
                                     **{k: values[k] for k in ("name", "cron", "time_zone", "on_missed")})
    except schedules.ScheduleInvalid as exc:
        return _form(request, runbook=runbook, values=values, raw=raw, schedule=schedule, errors=exc.errors,
                     parameter_errors=exc.parameter_errors, status=400)
    messages.success(request, f"Schedule {values['name']!r} saved.")
    return redirect("runbooks:schedules")


def _switch(enabled, verb):
    @require_POST
    def view(request, pk):
        schedule = get_object_or_404(Schedule, pk=pk)
        schedule = schedules.do_set_enabled(schedule.pk, enabled, acting_user=request.user)
        messages.success(request, f"Schedule {schedule.name!r} {verb}."
                         + (f" Next run: {schedule.next_due_at:%Y-%m-%d %H:%M} UTC." if enabled else ""))
        return redirect("runbooks:schedules")

    return view


enable = require("runbooks.change_schedule")(_switch(True, "turned on"))
disable = require("runbooks.change_schedule")(_switch(False, "turned off"))


@require("runbooks.delete_schedule")
def delete(request, pk):
    schedule = get_object_or_404(Schedule.objects.select_related("runbook"), pk=pk)
    if request.method == "POST":
        schedules.do_delete_schedule(schedule.pk, acting_user=request.user)
        messages.success(request, f"Schedule {schedule.name!r} deleted.")
        return redirect("runbooks:schedules")
    return render(request, "runbooks/schedule_delete.html", {"schedule": schedule,
                                                             "words": schedules.explain(schedule.cron)})
