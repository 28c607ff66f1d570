"""Maintenance windows: which are active, and whether one holds back an
incident's pages (only when every service of the incident is in maintenance:
a page about a service nobody is working on still goes out)."""
from django.db.models import Q
from django.utils import timezone

from .models import MaintenanceWindow


def active_windows(services, at=None):
    """The windows active at `at` for these services (objects or ids), soonest ending first."""
    at = at or timezone.now()
    ids = [getattr(s, "pk", s) for s in services]
    return list(MaintenanceWindow.objects.filter(service_id__in=ids, starts_at__lte=at, ends_at__gt=at)
                .filter(Q(ended_early_at__isnull=True) | Q(ended_early_at__gt=at))
                .select_related("service").order_by("ends_at"))


def holding_window(incident, at, windows=None):
    """The window that holds the incident's pages back at `at` (the one whose
    end releases them first), or None. `windows`: the active windows, when
    the caller loaded them for many incidents at once."""
    services = list(incident.services.all())
    if not services:
        return None
    if windows is None:
        windows = active_windows(services, at)
    wanted = {s.pk for s in services}
    latest = {}
    for window in (w for w in windows if w.service_id in wanted):
        if window.service_id not in latest or window.effective_end > latest[window.service_id].effective_end:
            latest[window.service_id] = window
    if len(latest) < len(services):
        return None
    return min(latest.values(), key=lambda w: w.effective_end)
