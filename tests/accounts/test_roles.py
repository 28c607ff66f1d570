from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

import pytest

from ops_console.accounts.roles import ROLES, role_of


@pytest.mark.django_db
def test_the_four_role_groups_exist():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)


@pytest.mark.django_db
def test_auditor_can_view_everything_and_change_nothing():
    perms = set(Group.objects.get(name="auditor").permissions.values_list("codename", flat=True))
    assert "view_auditentry" in perms and "view_user" in perms
    changing = {p for p in perms if p.split("_", 1)[0] in ("add", "change", "delete")}
    assert changing == set()


@pytest.mark.django_db
def test_commander_has_every_responder_permission():
    responder = set(Group.objects.get(name="responder").permissions.values_list("id", flat=True))
    commander = set(Group.objects.get(name="commander").permissions.values_list("id", flat=True))
    assert responder <= commander


@pytest.mark.django_db
def test_admin_group_holds_every_permission():
    from django.contrib.auth.models import Permission

    assert Group.objects.get(name="admin").permissions.count() == Permission.objects.count()


@pytest.mark.django_db
def test_create_user_command_gives_the_role(capsys):
    call_command("create_user", "alice", "--role", "commander", "--password", "a-long-password-1")
    from django.contrib.auth import get_user_model

    alice = get_user_model().objects.get(username="alice")
    assert role_of(alice) == "commander"
    assert alice.check_password("a-long-password-1")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_user", "alice", "--role", "auditor")


@pytest.mark.django_db
def test_create_user_without_password_prints_a_generated_one(capsys):
    call_command("create_user", "bob", "--role", "admin")
    out = capsys.readouterr().out
    assert "created bob (admin) with password " in out
    from django.contrib.auth import get_user_model

    bob = get_user_model().objects.get(username="bob")
    assert bob.is_superuser and bob.check_password(out.rsplit(" ", 1)[1].strip())
