"""Template helpers for the service charts partial other apps include."""
from django import template

from ops_console.monitoring import board

register = template.Library()


@register.simple_tag
def prometheus_unreachable():
    """The reason Prometheus cannot be read, or "" (a cached, fail-fast probe)."""
    return board.unreachable_message() or ""


@register.filter
def epoch(value):
    """A datetime as unix seconds for data attributes; "" for None."""
    return f"{value.timestamp():.0f}" if value else ""
