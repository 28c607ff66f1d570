"""Template helpers of the history and report pages."""
from django import template

register = template.Library()


@register.filter
def seconds_to(start, end):
    """{{ incident.detected_at|seconds_to:incident.resolved_at|duration }}"""
    if not start or not end:
        return None
    return (end - start).total_seconds()


@register.filter
def percent_of(part, whole):
    """Share as a 0-100 number for CSS bar widths."""
    try:
        return round(100 * float(part) / float(whole), 1) if whole else 0
    except (TypeError, ValueError):
        return 0
