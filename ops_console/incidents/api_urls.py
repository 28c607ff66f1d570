from django.urls import path

from . import api

app_name = "incidents_api"
urlpatterns = [
    path("alerts/alertmanager", api.alertmanager, name="alertmanager"),
    path("events", api.events, name="events"),
]
