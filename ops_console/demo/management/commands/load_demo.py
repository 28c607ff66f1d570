"""Load the demo data (each app's `demo.load(stdout)`): demo services, fake
incidents, demo people in on-call rotations, a maintenance window. For trying
the console out only: production runs `bootstrap`, never this. Run `bootstrap`
first (the demo incidents link the runbooks it loads). Idempotent."""
from django.core.management.base import BaseCommand

from ops_console.discovery import app_submodules


class Command(BaseCommand):
    help = "Load demo data (fake incidents, demo users in rotations); not for production. Run bootstrap first."

    def handle(self, **options):
        for module in app_submodules("demo"):
            module.load(self.stdout)
