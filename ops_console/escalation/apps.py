from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_defaults(sender, **kwargs):
    from .matrix import ensure_defaults as ensure

    ensure()


class EscalationConfig(AppConfig):
    name = "ops_console.escalation"
    label = "escalation"

    def ready(self):
        from ops_console.health.metrics import register_domain_collector

        from . import channels  # noqa: F401 - registers the channel kinds
        from .metrics import EscalationCollector

        register_domain_collector(EscalationCollector())
        # The response roles and the default matrix exist after every migrate
        # (and after a test flush), like the role groups.
        post_migrate.connect(ensure_defaults, sender=self, dispatch_uid="escalation-defaults")
