from django.urls import path

from .views import log

app_name = "audit"
urlpatterns = [
    path("", log.index, name="index"),
    path("entries/<int:entry_id>/", log.entry, name="entry"),
    path("export.csv", log.export, {"fmt": "csv"}, name="export_csv"),
    path("export.json", log.export, {"fmt": "json"}, name="export_json"),
]
