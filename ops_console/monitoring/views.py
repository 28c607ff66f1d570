"""Services pages: live SLO tiles, error budgets, targets, firing alerts, and
the JSON the charts draw from. Every view answers quickly when Prometheus is
down and says so."""
import math
import time
from datetime import datetime, timedelta, timezone

from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from ops_console.ui.access import require
from ops_console.ui.markdown import render as markdown

from . import board, budgets, prometheus
from .models import Service

LIVE_WINDOW_SECONDS = 3600    # charts show the last hour...
CHART_REFRESH_SECONDS = 15    # ...and fetch new points this often
STATUS_REFRESH_SECONDS = 15   # tiles, targets and alerts poll this often
BUDGET_REFRESH_SECONDS = 60   # budgets move slowly: their numbers and charts poll this often
MAX_RANGE = timedelta(days=31)
MARKER_CONTEXT = timedelta(minutes=30)  # shown before an incident's start when no start is given
MAX_LINES = 20               # a panel with more series shows the first ones
POINTS = 240                  # points per line: enough for a chart, cheap for Prometheus
VIEW = "monitoring.view_service"


def refresh_context():
    return {"chart_refresh": CHART_REFRESH_SECONDS, "status_refresh": STATUS_REFRESH_SECONDS,
            "budget_refresh": BUDGET_REFRESH_SECONDS, "live_window": LIVE_WINDOW_SECONDS}


def budget_context(service):
    read, thresholds, unavailable = budgets.read_budgets(service)
    return {"service": service, "budgets": read, "thresholds": thresholds, "budgets_unavailable": unavailable}


@require_GET
@require(VIEW)
def index(request):
    services = list(Service.objects.prefetch_related("slos", "panels"))
    boards, firing, unavailable = board.boards(services)
    return render(request, "monitoring/index.html", {
        "boards": boards, "unavailable": unavailable, "alerts": firing, **refresh_context()})


@require_GET
@require(VIEW)
def detail(request, slug):
    service = get_object_or_404(Service.objects.prefetch_related("slos", "panels"), slug=slug)
    live = board.board_for(service)
    return render(request, "monitoring/detail.html", {
        "board": live, "unavailable": live.unavailable, "description": markdown(service.description),
        **budget_context(service), **refresh_context()})


@require_GET
@require(VIEW)
def status(request, slug):
    """The live part of one service (tiles, targets, alerts) for htmx polling."""
    service = get_object_or_404(Service.objects.prefetch_related("slos"), slug=slug)
    return render(request, "monitoring/partials/service_status.html",
                  {"board": board.board_for(service), **refresh_context()})


@require_GET
@require(VIEW)
def error_budgets(request, slug):
    """The error budgets of one service (numbers only; the charts refresh themselves), for htmx polling."""
    service = get_object_or_404(Service.objects.prefetch_related("slos"), slug=slug)
    return render(request, "monitoring/partials/error_budgets.html",
                  {**budget_context(service), **refresh_context()})


@require_GET
@require(VIEW)
def alerts(request):
    """The alerts firing now (?service=<slug>: that service's), for htmx polling."""
    service = get_object_or_404(Service, slug=request.GET["service"]) if request.GET.get("service") else None
    try:
        firing, unavailable = board.firing_alerts(), ""
    except prometheus.PrometheusUnavailable as exc:
        firing, unavailable = [], str(exc)
    if service is not None:
        firing = [a for a in firing if service.matches(a["labels"])]
    return render(request, "monitoring/partials/alerts.html", {
        "alerts": firing, "unavailable": unavailable, "alerts_service": service, **refresh_context()})


def parse_moment(text, name):
    """Unix seconds or ISO 8601 -> aware datetime."""
    try:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be unix seconds or an ISO 8601 time, not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def chart_window(params):
    """start/end/step of a chart from ?start=&end=&marker= (default: the last
    hour, live; with a marker and no start: from MARKER_CONTEXT before the marker).
    Times are rounded to whole seconds slots so viewers within the same few
    seconds ask the same query (and share the cached answer)."""
    now = datetime.now(timezone.utc)
    end = parse_moment(params["end"], "end") if params.get("end") else now
    if params.get("start"):
        start = parse_moment(params["start"], "start")
    elif params.get("marker"):
        start = parse_moment(params["marker"], "marker") - MARKER_CONTEXT
    else:
        start = end - timedelta(seconds=LIVE_WINDOW_SECONDS)
    if end > now:
        end = now
    if start >= end:
        raise ValueError("start must be before end")
    if end - start > MAX_RANGE:
        raise ValueError("the range is longer than 31 days")
    step = max(5, math.ceil((end - start).total_seconds() / POINTS / 5) * 5)
    slot = prometheus.CACHE_SECONDS
    end = datetime.fromtimestamp(end.timestamp() // slot * slot, tz=timezone.utc)
    start = datetime.fromtimestamp(start.timestamp() // slot * slot, tz=timezone.utc)
    return start, end, step


def legend(labels, key):
    if key and key in labels:
        return labels[key]
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "value"


@require_GET
@require(VIEW)
def panel_data(request, slug, panel_id):
    """One panel's lines for uPlot: a shared x axis and a value or null per
    point (null is a gap). Errors come back as JSON with a status code."""
    service = get_object_or_404(Service, slug=slug)
    panel = service.panels.filter(pk=panel_id).first()
    if panel is None:
        raise Http404("No such panel")
    body = {"title": panel.title, "unit": panel.unit, "x": [], "series": [], "error": "",
            "marker": None, "fetched_at": time.time()}
    try:
        start, end, step = chart_window(request.GET)
        if request.GET.get("marker"):
            body["marker"] = parse_moment(request.GET["marker"], "marker").timestamp()
    except ValueError as exc:
        body["error"] = str(exc)
        return JsonResponse(body, status=400)
    body.update(start=start.timestamp(), end=end.timestamp(), step=step)
    try:
        series = prometheus.query_range(service.promql(panel.query), start, end, step)
    except prometheus.PrometheusUnavailable as exc:
        body["error"] = str(exc)
        return JsonResponse(body, status=503)
    except prometheus.PrometheusError as exc:
        body["error"] = str(exc)
        return JsonResponse(body, status=502)
    xs, columns = prometheus.align(series, start, end, step)
    body["x"] = xs
    body["series"] = [{"label": legend(s.labels, panel.legend), "values": values}
                      for s, values in zip(series, columns)][:MAX_LINES]
    return JsonResponse(body)


@require_GET
@require(VIEW)
def budget_data(request, slug, slo_id):
    """One budgeted SLO's budget left over its window, in the panels' JSON
    shape so the same chart code draws it."""
    service = get_object_or_404(Service, slug=slug)
    slo = service.slos.filter(pk=slo_id, target__isnull=False).first()
    if slo is None:
        raise Http404("No such SLO with an error budget")
    body = {"title": f"{slo.name}: error budget left", "unit": "ratio", "x": [], "series": [], "error": "",
            "marker": None, "fetched_at": time.time()}
    try:
        xs, values, step = budgets.budget_series(slo)
    except prometheus.PrometheusUnavailable as exc:
        body["error"] = str(exc)
        return JsonResponse(body, status=503)
    except prometheus.PrometheusError as exc:
        body["error"] = str(exc)
        return JsonResponse(body, status=502)
    body.update(start=xs[0], end=xs[-1], step=step, x=xs)
    if any(v is not None for v in values):
        body["series"] = [{"label": "budget left", "values": values}]
    return JsonResponse(body)
