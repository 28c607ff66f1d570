"""The escalation state the incidents pages show (the commander's board, the
incident page). Those pages are put together in their templates, which load
these tags, so the incidents app's code imports nothing from escalation: the
app above it, which listens to its signals."""
from django import template

from django.db.models import Prefetch

from .. import engine
from ..maintenance import active_windows
from ..models import Delivery, Page

register = template.Library()


@register.simple_tag
def escalation_of(incident):
    """Who was paged, who is next and when, for one incident (engine.board_status)."""
    return engine.board_status([incident]).get(incident.pk, {})


@register.simple_tag
def with_escalation(incidents):
    """[(incident, its escalation state)] for a page of the board, in a fixed number of queries."""
    incidents = list(incidents)
    status = engine.board_status(incidents)
    return [(incident, status.get(incident.pk, {})) for incident in incidents]


@register.simple_tag
def maintenance_now(services):
    """The maintenance windows active now for these services."""
    return active_windows(services)


def pages_with_deliveries(incident):
    """The incident's pages, oldest first, each with its deliveries and their attempts (three queries)."""
    return list(Page.objects.filter(incident=incident).select_related("user").order_by("created_at", "pk")
                .prefetch_related(Prefetch("deliveries", queryset=Delivery.objects.prefetch_related("attempt_log"))))


@register.simple_tag
def deliveries_of(incident):
    return pages_with_deliveries(incident)
