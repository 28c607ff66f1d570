from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "ops_console.audit"
    label = "audit"
    verbose_name = "Audit and history"

    def ready(self):
        from ops_console.health.metrics import register_domain_collector

        from . import signals  # noqa: F401  (connects the sign-in receivers)
        from .metrics import COLLECTOR

        register_domain_collector(COLLECTOR)
