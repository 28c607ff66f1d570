"""Find an optional module of the same name in each app (permissions.py,
demo.py), so an app contributes its part without a central list to edit."""
from importlib import import_module

from django.apps import apps


def app_submodules(name, prefix="ops_console."):
    """Yield `<app>.<name>` for every installed app under prefix that has one,
    in INSTALLED_APPS order."""
    for config in apps.get_app_configs():
        if not config.name.startswith(prefix):
            continue
        try:
            yield import_module(f"{config.name}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.{name}":
                raise
