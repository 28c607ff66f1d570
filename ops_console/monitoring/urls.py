from django.urls import path

from . import views

app_name = "monitoring"
urlpatterns = [
    path("", views.index, name="index"),
    path("alerts/", views.alerts, name="alerts"),
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/status/", views.status, name="status"),
    path("<slug:slug>/budgets/", views.error_budgets, name="budgets"),
    path("<slug:slug>/slos/<int:slo_id>/budget.json", views.budget_data, name="budget_data"),
    path("<slug:slug>/panels/<int:panel_id>.json", views.panel_data, name="panel_data"),
]
