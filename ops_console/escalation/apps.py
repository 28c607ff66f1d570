from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_defaults(sender, **kwargs):
    from .matrix import ensure_defaults as ensure

    ensure()


class EscalationConfig(AppConfig):
    name = "ops_console.escalation"
    label = "escalation"

    def ready(self):
        from . import hooks
        from . import metrics  # noqa: F401 - registers the escalation collector for /metrics
        hooks.connect()  # the incidents app announces its changes; the engine listens
        # The response roles and the default matrix exist after every migrate
        # (and after a test flush), like the role groups.
        post_migrate.connect(ensure_defaults, sender=self, dispatch_uid="escalation-defaults")
