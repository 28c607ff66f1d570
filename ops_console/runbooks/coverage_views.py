"""The coverage page: which alert rules Prometheus has loaded have a runbook
(coverage.py decides). Read-only, for everyone who reads runbooks."""
from django.shortcuts import render

from ops_console.monitoring.prometheus import PrometheusError
from ops_console.ui.access import require

from . import coverage as rule_coverage


@require("runbooks.view_runbook")
def coverage(request):
    try:
        found, error = rule_coverage.coverage(), ""
    except PrometheusError as exc:
        found, error = None, str(exc)
    return render(request, "runbooks/coverage.html", {"coverage": found, "error": error},
                  status=503 if error else 200)
