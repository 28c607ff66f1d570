from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "ops_console.escalation"
    label = "escalation"
