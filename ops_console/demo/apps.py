from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "ops_console.demo"
    label = "demo"
