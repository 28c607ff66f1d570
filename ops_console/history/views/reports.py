"""Reports: response times against targets, pages per person, runbook usage."""
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ops_console.escalation.models import Page
from ops_console.incidents.models import Incident
from ops_console.runbooks.models import Run, StepRun
from ops_console.ui.access import require
from ops_console.ui.forms import PeriodForm, period_lookups

from .. import reports


@require_GET
@require("incidents.view_incident")
def index(request):
    since, until = reports.default_period()
    form = PeriodForm(request.GET or None, initial={"since": since, "until": until})
    if form.is_bound and form.is_valid():
        since, until = form.cleaned_data["since"], form.cleaned_data["until"]

    def period(field):
        return period_lookups(field, since, until)

    months = reports.response_times(Incident.objects.filter(**period("detected_at")))
    people = reports.pages_per_person(Page.objects.filter(**period("created_at")))
    usage = reports.runbook_usage(Run.objects.filter(**period("created_at")))
    failures = reports.step_failure_rates(StepRun.objects.filter(**period("run__created_at")))
    return render(request, "history/reports.html", {
        "form": form, "since": since, "until": until, "months": months, "people": people, "usage": usage,
        "failures": failures, "max_pages": max((p["pages"] for p in people), default=0),
        "max_runs": max((u["runs"] for u in usage), default=0),
        "misses": [(m, miss) for m in months for miss in m.misses],
    })
