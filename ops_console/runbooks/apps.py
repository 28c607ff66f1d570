from django.apps import AppConfig


class RunbooksConfig(AppConfig):
    name = "ops_console.runbooks"
    label = "runbooks"

    def ready(self):
        from . import metrics  # noqa: F401  (registers the step run collector for /metrics)
