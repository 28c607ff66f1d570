from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "ops_console.monitoring"
    label = "monitoring"

    def ready(self):
        from ops_console.health.metrics import register_domain_collector

        from .metrics import ServicesCollector

        register_domain_collector(ServicesCollector())
