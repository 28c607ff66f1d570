from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "ops_console.monitoring"
    label = "monitoring"
