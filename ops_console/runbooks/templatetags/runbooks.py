"""The runbooks a service page lists. The Services pages belong to the
monitoring app, below runbooks, so they ask here, from their templates."""
from django import template

from ..models import Runbook

register = template.Library()


@register.simple_tag
def runbooks_for(service):
    """Runbooks whose front matter names this service (Runbook.services is a JSON list of slugs)."""
    return Runbook.objects.filter(archived=False, services__contains=[service.slug]).only("slug", "title")
