from django.apps import AppConfig


class BootstrapConfig(AppConfig):
    name = "ops_console.bootstrap"
    label = "bootstrap"
