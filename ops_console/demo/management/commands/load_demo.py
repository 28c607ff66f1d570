"""Load the runbook library and demo data (each app's `demo.load(stdout)`),
and with --create-admin make the first admin login and print it once."""
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from ops_console.discovery import app_submodules


class Command(BaseCommand):
    help = "Load the runbook library and demo data; optionally create the first admin."

    def add_arguments(self, parser):
        parser.add_argument("--create-admin", action="store_true")

    def handle(self, create_admin, **options):
        # The admin first: demo loaders create demo users of their own.
        if create_admin:
            self.create_admin()
        for module in app_submodules("demo"):
            module.load(self.stdout)

    def create_admin(self):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("  Login: use your existing account (reset one with: .venv/bin/python manage.py "
                              "changepassword NAME)")
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser("admin", "admin@localhost", password)
        user.groups.add(Group.objects.get(name="admin"))
        self.stdout.write(f"  Login: admin / {password}   (shown once; change it under Admin)")
