from django.urls import path

from . import views

app_name = "escalation"
urlpatterns = [
    path("oncall/", views.index, name="oncall"),
]
