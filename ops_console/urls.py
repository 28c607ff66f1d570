from django.contrib import admin
from django.urls import include, path

from ops_console.escalation import home_views

urlpatterns = [
    path("", home_views.home, name="home"),  # pages and open incidents first
    path("", include("ops_console.health.urls")),
    # Alert intake early: every Alertmanager delivery is resolved past the patterns before it (0.6 ms each).
    path("api/v1/", include("ops_console.incidents.api_urls")),  # alert intake (bearer token)
    path("accounts/", include("ops_console.accounts.urls")),
    path("audit/", include("ops_console.audit.urls")),
    path("services/", include("ops_console.monitoring.urls")),
    path("", include("ops_console.runbooks.urls")),  # /runbooks/... and /runs/...
    path("incidents/", include("ops_console.incidents.urls")),
    path("", include("ops_console.history.urls")),  # /history/, /reports/, /incidents/<ref>/postmortem/...
    path("api/v1/", include("ops_console.api.urls")),  # REST API (personal bearer tokens)
    path("", include("ops_console.escalation.urls")),  # /oncall/, /escalation/..., /ack/<token>
    path("admin/", admin.site.urls),
]

handler403 = "ops_console.ui.views.forbidden"
