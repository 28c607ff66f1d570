"""The home page: what is on fire first. The signed-in person's own pages of
open incidents, then every open incident, then the way to the rest. It lives
here, not in ui, because it reads pages and incidents (escalation sits above
incidents; ui sits below both)."""
from django.db.models import F
from django.shortcuts import render

from ops_console.incidents.models import OPEN_STATUSES, Incident
from ops_console.ui.access import require

from .models import Page

HOME_LIMIT = 20


@require()
def home(request):
    """Every signed-in person may see the home page; what is on it follows their permissions."""
    context = {"my_pages": [], "open_incidents": [], "open_count": 0}
    if request.user.has_perm("escalation.view_page"):
        # Unacknowledged pages first (PostgreSQL would put the NULLs last), then the newest.
        mine = Page.objects.filter(user=request.user, incident__status__in=OPEN_STATUSES).select_related(
            "incident__severity").order_by(F("acknowledged_at").asc(nulls_first=True), "-created_at")
        context["my_pages"] = list(mine[:HOME_LIMIT])
    if request.user.has_perm("incidents.view_incident"):
        incidents = Incident.objects.open().select_related("severity", "commander").order_by(
            "severity__rank", "-detected_at")
        context["open_incidents"] = list(incidents[:HOME_LIMIT])
        context["open_count"] = incidents.count()
    return render(request, "ui/home.html", context)
