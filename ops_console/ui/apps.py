from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "ops_console.ui"
    label = "ui"
