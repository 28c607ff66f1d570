"""The Drills report: each drill's results over a period against its targets,
with the trend of its detection and recovery times."""
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ops_console.runbooks import drills
from ops_console.runbooks.models import DrillResult
from ops_console.ui.access import require
from ops_console.ui.forms import PeriodForm, period_lookups

from .. import reports


@require_GET
@require("runbooks.view_drillresult")
def index(request):
    since, until = reports.default_period()
    form = PeriodForm(request.GET or None, initial={"since": since, "until": until})
    if form.is_bound and form.is_valid():
        since, until = form.cleaned_data["since"], form.cleaned_data["until"]
    results = list(DrillResult.objects.filter(**period_lookups("run__created_at", since, until))
                   .select_related("runbook", "run", "run__started_by").order_by("-run__created_at"))
    return render(request, "history/drills.html", {
        "form": form, "since": since, "until": until, "trends": drills.trends(results), "results": results,
    })
