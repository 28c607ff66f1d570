from django.urls import path

from .views import log, sign_ins

app_name = "audit"
urlpatterns = [
    path("", log.index, name="index"),
    path("entries/<int:entry_id>/", log.entry, name="entry"),
    path("export.csv", log.export, {"fmt": "csv"}, name="export_csv"),
    path("export.json", log.export, {"fmt": "json"}, name="export_json"),
    path("sign-ins/failed/", sign_ins.failed, name="failed_sign_ins"),
]
