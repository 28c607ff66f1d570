from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "ops_console.audit"
    label = "audit"
