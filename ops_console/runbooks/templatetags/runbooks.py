"""The runbooks a service page lists. The Services pages belong to the
monitoring app, below runbooks, so they ask here, from their templates."""
from django import template

from .. import drills, engine
from ..models import DrillResult, Runbook

register = template.Library()


@register.simple_tag
def runbooks_for(service):
    """Runbooks whose front matter names this service (Runbook.services is a JSON list of slugs)."""
    return Runbook.objects.filter(archived=False, services__contains=[service.slug]).only("slug", "title")


@register.simple_tag
def drill_result_for(run):
    """The run's DrillResult, or None when the run is not a drill's."""
    return DrillResult.objects.filter(run=run).first()


@register.simple_tag
def drill_results_for(service):
    """The latest drill results of the drills that name this service."""
    return drills.results_for_service(service.slug)


@register.filter
def phase_budget(phase, phases):
    """A phase's budget in seconds, counted from the phase's own start (engine.phase_budget).
    phases: the document's phases, or the run page's (phase, overrun) pairs."""
    phases = [item[0] if isinstance(item, tuple) else item for item in phases]
    budget = engine.phase_budget(phase, phases)
    return budget.total_seconds() if budget is not None else None


@register.filter
def drill_change(trend, name):
    """Seconds the latest detection or recovery differs from the mean of the earlier runs (negative: faster)."""
    return trend.change(name)
