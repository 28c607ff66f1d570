"""The escalation matrix: the default from the source documents (the GA
release report's escalation matrix), choosing the policy in force for an
incident, and freezing it into a snapshot."""
from django.db import transaction

from .models import EscalationLevel, EscalationPolicy, ResponseRole

ROLES = [
    ("oncall-sre", "On-call SRE", "First responder for every paging incident."),
    ("senior-sre", "Senior SRE", "Second line for P1 and P2."),
    ("incident-commander", "Incident commander", "Takes command of P0 incidents."),
    ("engineering-manager", "Engineering manager", "Owns staffing and communication for P1/P2."),
    ("vp-engineering", "VP of Engineering", "Executive escalation."),
    ("cto", "CTO", "Final escalation for P0."),
]

# severity -> [(minutes after opening, role slug)], from the matrix:
# | P0 | On-call SRE | Incident Commander (30m) | VP Engineering (1h) | CTO (2h) |
# | P1 | On-call SRE | Senior SRE (30m) | Engineering Manager (1h) | VP Engineering (2h) |
# | P2 | On-call SRE | Senior SRE (30m) | - | Engineering Manager (2h) |
# | P3 | Ticket | - | - | - |
DEFAULT_MATRIX = {
    "P0": [(0, "oncall-sre"), (30, "incident-commander"), (60, "vp-engineering"), (120, "cto")],
    "P1": [(0, "oncall-sre"), (30, "senior-sre"), (60, "engineering-manager"), (120, "vp-engineering")],
    "P2": [(0, "oncall-sre"), (30, "senior-sre"), (120, "engineering-manager")],
    "P3": [],
}
NAMES = {"P0": "P0 critical", "P1": "P1 high", "P2": "P2 medium", "P3": "P3 low"}
# The first level pages the on-call SRE again every few minutes until someone
# acknowledges; the later levels tell the next people while the incident is still
# unresolved, acknowledged or not (the playbooks escalate on "unresolved after 30 min":
# the VP hears of a P0 that is open after an hour even though on-call took it).
FIRST_LEVEL_REPEAT_MINUTES = 5


def default_level_rules(position):
    """(stop_on, repeat_every_minutes) of the default matrix's level at `position` (1-based)."""
    if position == 1:
        return EscalationLevel.ACK, FIRST_LEVEL_REPEAT_MINUTES
    return EscalationLevel.RESOLVE, None


@transaction.atomic
def ensure_defaults():
    """Create the response roles and the default policy of each severity when
    missing; never changes what an admin edited. Idempotent."""
    roles = {}
    for position, (slug, name, description) in enumerate(ROLES):
        roles[slug], _ = ResponseRole.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description, "position": position})
    for severity, levels in DEFAULT_MATRIX.items():
        policy, created = EscalationPolicy.objects.get_or_create(
            severity=severity, service=None,
            defaults={"name": f"{NAMES[severity]} (default)",
                      "description": "" if levels else "A ticket, no page."})
        if created:
            EscalationLevel.objects.bulk_create(
                EscalationLevel(policy=policy, position=n, delay_minutes=minutes, role=roles[slug],
                                stop_on=default_level_rules(n)[0], repeat_every_minutes=default_level_rules(n)[1])
                for n, (minutes, slug) in enumerate(levels, start=1))


def escalate_while_unresolved(policy_model, level_model):
    """Bring default policies created when every level stopped on acknowledgement to
    the rules above; a policy an admin changed (other delays, roles, stop rules or
    repeats) is left as it is. Returns how many policies changed. For the migration."""
    changed = 0
    for policy in policy_model.objects.filter(service=None, severity__in=list(DEFAULT_MATRIX)):
        levels = list(level_model.objects.filter(policy=policy).select_related("role").order_by("position"))
        as_created = [(minutes, slug, EscalationLevel.ACK, None) for minutes, slug in DEFAULT_MATRIX[policy.severity]]
        if not levels or [(lv.delay_minutes, lv.role.slug, lv.stop_on, lv.repeat_every_minutes)
                          for lv in levels] != as_created:
            continue
        for level in levels:
            level.stop_on, level.repeat_every_minutes = default_level_rules(level.position)
            level.save(update_fields=["stop_on", "repeat_every_minutes"])
        changed += 1
    return changed


def policy_for(severity, services=(), candidates=None):
    """The policy of the first service that has one for this severity, else the default.
    `candidates`: policies_by_service(severity), when the caller already loaded them."""
    if candidates is None:
        candidates = policies_by_service(severity)
    for service in services:
        if service.pk in candidates:
            return candidates[service.pk]
    return candidates.get(None)


def policies_by_service(severity):
    """{service id or None (the default): policy} of a severity, with levels and roles loaded."""
    return {p.service_id: p for p in EscalationPolicy.objects.filter(severity=severity).select_related(
        "service").prefetch_related("levels__role")}


def snapshot(policy, severity):
    """The policy as plain data, so later edits never change a live escalation."""
    if policy is None:
        return {"policy_id": None, "policy": "no policy", "severity": severity, "levels": []}
    return {
        "policy_id": policy.pk,
        "policy": policy.name,
        "severity": severity,
        "service": policy.service.slug if policy.service_id else None,
        "levels": [
            {"level": n, "delay_minutes": level.delay_minutes, "role": level.role.slug, "role_name": level.role.name,
             "stop_on": level.stop_on, "repeat_every_minutes": level.repeat_every_minutes}
            for n, level in enumerate(policy.levels.all(), start=1)
        ],
    }
