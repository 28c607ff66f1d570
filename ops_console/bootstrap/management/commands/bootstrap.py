"""Set up what production needs: the role groups and their permissions, the
severities and alert routing, the default escalation matrix and the runbook
library in runbooks/; optionally the Alertmanager's API token and a first admin.
Idempotent: run it after every migrate; it never changes what an admin edited
and creates no users (unless asked for the admin), incidents or rotations."""
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ops_console.accounts.roles import ADMIN, sync_roles
from ops_console.escalation.matrix import ensure_defaults as ensure_escalation_matrix
from ops_console.incidents.defaults import ensure_defaults as ensure_severities_and_routing
from ops_console.incidents.intake_config import do_create_token
from ops_console.incidents.models import ApiToken, hash_token
from ops_console.runbooks import library

TOKEN_ENV = "OPS_CONSOLE_ALERTMANAGER_TOKEN"


class Command(BaseCommand):
    help = ("Set up roles, severities, routing, the escalation matrix and the runbook library "
            "(idempotent; no demo data).")

    def add_arguments(self, parser):
        parser.add_argument("--runbooks", default=str(settings.BASE_DIR / "runbooks"),
                            help="the runbook library to sync (default: runbooks/ of this checkout)")
        parser.add_argument("--alertmanager-token", action="store_true",
                            help=f"issue the API token Alertmanager sends, with the value of ${TOKEN_ENV}")
        parser.add_argument("--create-admin", action="store_true",
                            help="create an `admin` login when there is no superuser yet and print it once")

    def handle(self, runbooks, alertmanager_token, create_admin, **options):
        with transaction.atomic():
            sync_roles()
            ensure_severities_and_routing()
            ensure_escalation_matrix()
        self.stdout.write("  Roles, severities, alert routing and the escalation matrix are in place")
        self.sync_runbooks(Path(runbooks))
        if (Path(runbooks) / "schedules.yaml").is_file():
            # The shipped schedules arrive turned off: examples an admin enables.
            call_command("load_schedules", str(Path(runbooks) / "schedules.yaml"), stdout=self.stdout,
                         stderr=self.stderr)
        if (Path(runbooks) / "services.yaml").is_file():  # the services the library's runbooks and rules name
            call_command("load_services", str(Path(runbooks) / "services.yaml"), stdout=self.stdout)
        if alertmanager_token:
            self.issue_alertmanager_token()
        if create_admin:
            self.create_admin()

    def sync_runbooks(self, directory):
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory (the runbook library)")
        counts = {}
        results = library.sync_directory(directory)
        for note in dict.fromkeys(note for _, saved in results for note in saved.notes):  # once, not per file
            self.stderr.write(f"  warning: {note}")
        for file, saved in results:
            counts[saved.status] = counts.get(saved.status, 0) + 1
            if saved.status == library.INVALID:
                self.stderr.write(f"  runbook not loaded: {file}: {'; '.join(str(p) for p in saved.errors[:3])}")
        self.stdout.write("  Runbooks: " + (", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
                                            or "none"))

    def issue_alertmanager_token(self):
        raw = os.environ.get(TOKEN_ENV, "").strip()
        if not raw:
            raise CommandError(f"--alertmanager-token needs the token's value in {TOKEN_ENV}")
        if ApiToken.objects.filter(token_hash=hash_token(raw)).exists():
            return
        token, _ = do_create_token("alertmanager", acting_user=None, raw=raw)
        self.stdout.write(f"  API token {token.prefix}… for Alertmanager (from {TOKEN_ENV})")

    def create_admin(self):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("  Login: use your existing account (reset one with: .venv/bin/python manage.py "
                              "changepassword NAME)")
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser("admin", "admin@localhost", password)
        user.groups.add(Group.objects.get(name=ADMIN))
        self.stdout.write(f"  Login: admin / {password}   (shown once; change it under Admin)")
