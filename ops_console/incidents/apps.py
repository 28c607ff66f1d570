from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "ops_console.incidents"
    label = "incidents"
