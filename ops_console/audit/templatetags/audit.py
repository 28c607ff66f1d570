"""Template helpers of the audit log's pages."""
import json

from django import template

register = template.Library()


@register.filter
def as_json(value):
    """A before/after value as people read it: strings as they are, the rest as JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
