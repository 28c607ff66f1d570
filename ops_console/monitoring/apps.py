from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "ops_console.monitoring"
    label = "monitoring"

    def ready(self):
        from . import metrics  # noqa: F401  (registers the services collector for /metrics)
