"""Demo on-call: the response roles and default matrix, a rotation of demo
people per role and one planned maintenance window. Idempotent: runs on every
start and never changes a rotation someone already set up."""
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from ops_console.monitoring.models import Service

from .matrix import ensure_defaults
from .models import MaintenanceWindow, ResponseRole, Rotation, RotationMember

PEOPLE = {  # role -> demo users, in rotation order
    "oncall-sre": [("ann.sre", "responder"), ("ben.sre", "responder"), ("cho.sre", "responder")],
    "senior-sre": [("dee.senior", "responder"), ("eli.senior", "responder")],
    "incident-commander": [("fay.ic", "commander"), ("gus.ic", "commander")],
    "engineering-manager": [("hal.em", "commander")],
    "vp-engineering": [("ivy.vp", "commander")],
    "cto": [("jon.cto", "commander")],
}
WINDOW_REASON = "Demo: kernel patching of the AI Core nodes"


def demo_user(username, role):
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.invalid"})
    if created:
        user.set_unusable_password()  # demo people are paged, they do not sign in
        user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role))
    return user


def load(stdout):
    ensure_defaults()
    for slug, people in PEOPLE.items():
        role = ResponseRole.objects.get(slug=slug)
        if Rotation.objects.filter(role=role).exists():
            continue
        rotation = Rotation.objects.create(role=role, starts_on=date(2024, 1, 1))
        for n, (username, group) in enumerate(people):
            RotationMember.objects.create(rotation=rotation, user=demo_user(username, group), position=n)
        stdout.write(f"  escalation: {role} rotation of {', '.join(name for name, _ in people)}")
    service = Service.objects.filter(slug="ai-core").first()
    if service and not MaintenanceWindow.objects.filter(reason=WINDOW_REASON).exists():
        start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        MaintenanceWindow.objects.create(service=service, starts_at=start, ends_at=start + timedelta(hours=2),
                                         reason=WINDOW_REASON)
        stdout.write("  escalation: a maintenance window for AI Core tomorrow")
