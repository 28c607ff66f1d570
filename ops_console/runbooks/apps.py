from django.apps import AppConfig


class RunbooksConfig(AppConfig):
    name = "ops_console.runbooks"
    label = "runbooks"
