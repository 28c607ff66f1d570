from django.urls import path

from .views import history, log, postmortems, reports

app_name = "audit"
urlpatterns = [
    path("", log.index, name="index"),
    path("entries/<int:entry_id>/", log.entry, name="entry"),
    path("export.csv", log.export, {"fmt": "csv"}, name="export_csv"),
    path("export.json", log.export, {"fmt": "json"}, name="export_json"),
    path("incidents/", history.incidents, name="incidents"),
    path("incidents/export.csv", history.export_incidents, {"fmt": "csv"}, name="incidents_csv"),
    path("incidents/export.json", history.export_incidents, {"fmt": "json"}, name="incidents_json"),
    path("incidents/<str:reference>/", history.incident, name="incident"),
    path("incidents/<str:reference>/export.csv", history.export_incident, {"fmt": "csv"}, name="incident_csv"),
    path("incidents/<str:reference>/export.json", history.export_incident, {"fmt": "json"}, name="incident_json"),
    path("incidents/<str:reference>/postmortem/", postmortems.detail, name="postmortem"),
    path("incidents/<str:reference>/postmortem/edit", postmortems.edit, name="postmortem_edit"),
    path("incidents/<str:reference>/postmortem/v<int:number>/", postmortems.version, name="postmortem_version"),
    path("incidents/<str:reference>/postmortem.md", postmortems.export, name="postmortem_md"),
    path("runs/<int:run_id>/", history.run, name="run"),
    path("reports/", reports.index, name="reports"),
]
