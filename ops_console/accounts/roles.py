"""The four roles are Django groups. Each app grants its permissions to roles
in its own `permissions.py` (GRANTS = {"responder": [...], ...}); this module
gathers them. Commanders get everything responders get; auditors get every
`view_*` permission and nothing that changes state; admins get everything."""
from django.apps import apps as global_apps

from ops_console.discovery import app_submodules

RESPONDER, COMMANDER, AUDITOR, ADMIN = "responder", "commander", "auditor", "admin"
ROLES = (RESPONDER, COMMANDER, AUDITOR, ADMIN)
ROLE_LABELS = {
    RESPONDER: "Responder (on-call engineer)",
    COMMANDER: "Incident commander",
    AUDITOR: "Auditor (read-only)",
    ADMIN: "Administrator",
}


def collect_grants():
    grants = {role: set() for role in ROLES}
    for module in app_submodules("permissions"):
        for role, perms in getattr(module, "GRANTS", {}).items():
            grants[role].update(perms)
    grants[COMMANDER] |= grants[RESPONDER]
    return grants


def sync_roles(apps=global_apps):
    """Make the groups match the grants. Idempotent; runs after every migrate
    (and after a test flush) so permissions added by later apps are included."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    grants = collect_grants()
    all_perms = list(Permission.objects.select_related("content_type"))
    by_name = {f"{p.content_type.app_label}.{p.codename}": p for p in all_perms}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        if role == ADMIN:
            wanted = all_perms
        else:
            names = set(grants[role])
            if role == AUDITOR:
                names |= {name for name in by_name if name.split(".", 1)[1].startswith("view_")}
            wanted = [by_name[name] for name in sorted(names) if name in by_name]
        group.permissions.set(wanted)


def role_of(user):
    """The user's highest role, for display."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    names = {g.name for g in user.groups.all()}
    for role in (ADMIN, COMMANDER, RESPONDER, AUDITOR):
        if role in names:
            return role
    return None
