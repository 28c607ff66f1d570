"""Changing a user's role: one action that also writes the audit entry."""
from django.contrib.auth.models import Group

from ops_console.audit import log as audit
from ops_console.audit.log import record

from .roles import ADMIN, ROLES, role_of


@audit.atomic
def do_set_role(user, role, *, acting_user):
    before = role_of(user)
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    user.groups.add(Group.objects.get(name=role))
    is_admin = role == ADMIN
    if user.is_staff != is_admin or user.is_superuser != is_admin:
        user.is_staff = user.is_superuser = is_admin
        user.save(update_fields=["is_staff", "is_superuser"])
    record("user.role_changed", obj=user, actor=acting_user, before={"role": before}, after={"role": role})
