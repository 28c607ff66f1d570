from django.urls import path

from . import views

app_name = "monitoring"
urlpatterns = [
    path("", views.index, name="index"),
    path("alerts/", views.alerts, name="alerts"),
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/status/", views.status, name="status"),
    path("<slug:slug>/panels/<int:panel_id>.json", views.panel_data, name="panel_data"),
]
