from django.urls import path

from . import views

app_name = "runbooks"
urlpatterns = [
    path("runbooks/", views.index, name="index"),
]
