from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "ops_console.api"
    label = "api"
