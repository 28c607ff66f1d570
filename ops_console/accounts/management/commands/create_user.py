"""manage.py create_user NAME --role ROLE [--password P] [--email E]"""
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from ops_console.accounts.roles import ADMIN, ROLES


class Command(BaseCommand):
    help = "Create a user with one of the roles: " + ", ".join(ROLES)

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--password", help="default: a random one, printed once")
        parser.add_argument("--email", default="")

    def handle(self, username, role, password, email, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"user {username!r} already exists")
        shown = password is None
        password = password or secrets.token_urlsafe(12)
        user = User.objects.create_user(username=username, email=email, password=password)
        if role == ADMIN:
            user.is_staff = True
            user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        user.groups.add(Group.objects.get(name=role))
        self.stdout.write(f"created {username} ({role})" + (f" with password {password}" if shown else ""))
