from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "ops_console.health"
    label = "health"
