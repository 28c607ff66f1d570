from django.apps import AppConfig


class RunbooksConfig(AppConfig):
    name = "ops_console.runbooks"
    label = "runbooks"

    def ready(self):
        from ops_console.health.metrics import register_domain_collector

        from .metrics import StepRunCollector

        register_domain_collector(StepRunCollector())
