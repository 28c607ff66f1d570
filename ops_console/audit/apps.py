from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "ops_console.audit"
    label = "audit"
    verbose_name = "Audit and history"

    def ready(self):
        from . import metrics  # noqa: F401  (registers the audit collector for /metrics)
        from . import signals  # noqa: F401  (connects the sign-in receivers)
