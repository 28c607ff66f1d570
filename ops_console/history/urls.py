from django.urls import path

from .views import drills, incidents, postmortems, reports
from .views.moved import moved_to

app_name = "history"
INCIDENT = "incidents/<str:reference>/"
urlpatterns = [
    path("history/", incidents.incidents, name="incidents"),
    path("history/export.csv", incidents.export_incidents, {"fmt": "csv"}, name="incidents_csv"),
    path("history/export.json", incidents.export_incidents, {"fmt": "json"}, name="incidents_json"),
    path(INCIDENT + "export.csv", incidents.export_incident, {"fmt": "csv"}, name="incident_csv"),
    path(INCIDENT + "export.json", incidents.export_incident, {"fmt": "json"}, name="incident_json"),
    path(INCIDENT + "postmortem/", postmortems.detail, name="postmortem"),
    path(INCIDENT + "postmortem/edit", postmortems.edit, name="postmortem_edit"),
    path(INCIDENT + "postmortem/v<int:number>/", postmortems.version, name="postmortem_version"),
    path("incidents/<str:reference>/postmortem.md", postmortems.export, name="postmortem_md"),
    path("reports/", reports.index, name="reports"),
    path("reports/drills/", drills.index, name="drills"),
    # Where these pages were while the audit app held them.
    path("audit/incidents/", moved_to("history:incidents")),
    path("audit/incidents/export.csv", moved_to("history:incidents_csv")),
    path("audit/incidents/export.json", moved_to("history:incidents_json")),
    path("audit/incidents/<str:reference>/", moved_to("incidents:detail")),
    path("audit/incidents/<str:reference>/export.csv", moved_to("history:incident_csv")),
    path("audit/incidents/<str:reference>/export.json", moved_to("history:incident_json")),
    path("audit/incidents/<str:reference>/postmortem/", moved_to("history:postmortem")),
    path("audit/incidents/<str:reference>/postmortem/edit", moved_to("history:postmortem_edit")),
    path("audit/incidents/<str:reference>/postmortem/v<int:number>/", moved_to("history:postmortem_version")),
    path("audit/incidents/<str:reference>/postmortem.md", moved_to("history:postmortem_md")),
    path("audit/runs/<int:pk>/", moved_to("runbooks:run")),
    path("audit/reports/", moved_to("history:reports")),
]
