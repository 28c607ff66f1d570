from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_defaults(sender, **kwargs):
    from .defaults import ensure_defaults as ensure

    ensure()


class IncidentsConfig(AppConfig):
    name = "ops_console.incidents"
    label = "incidents"

    def ready(self):
        from ops_console.runbooks import signals

        from . import metrics  # noqa: F401  (registers the incidents collector for /metrics)
        from . import runs

        signals.run_started.connect(runs.on_run_started, dispatch_uid="incidents.run_started")
        signals.run_finished.connect(runs.on_run_finished, dispatch_uid="incidents.run_finished")
        # Severities and routing exist after every migrate and test flush.
        post_migrate.connect(ensure_defaults, sender=self, dispatch_uid="incidents-defaults")
