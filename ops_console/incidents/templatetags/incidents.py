"""The incidents the Services pages link alerts to. Those pages belong to the
monitoring app, below incidents, so they ask here, from their templates,
instead of monitoring's code reading incidents' tables."""
from django import template

from ..models import Alert

register = template.Library()


@register.simple_tag
def with_incidents(alerts):
    """The alerts Prometheus holds now (monitoring.board.firing_alerts), each
    with its "incident": the one Alertmanager's webhook opened for its
    fingerprint (incidents.Alert keeps them), or None; in one query."""
    alerts = [dict(alert) for alert in alerts]
    found = {}
    if alerts:
        rows = Alert.objects.filter(fingerprint__in={a["fingerprint"] for a in alerts}, incident__isnull=False)
        for row in rows.select_related("incident").order_by("-starts_at"):
            found.setdefault(row.fingerprint, row.incident)
    for alert in alerts:
        alert["incident"] = found.get(alert["fingerprint"])
    return alerts
