from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "ops_console.history"
    label = "history"
    verbose_name = "Incident history"
