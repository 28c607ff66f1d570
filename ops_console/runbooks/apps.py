from django.apps import AppConfig


class RunbooksConfig(AppConfig):
    name = "ops_console.runbooks"
    label = "runbooks"

    def ready(self):
        from . import drills, metrics  # noqa: F401  (metrics registers the step run collector for /metrics)
        drills.connect()
