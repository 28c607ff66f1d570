"""Every change people make here goes through one do_* function: it changes
the rows and writes the audit entry in the same transaction (audit.atomic:
the audit chain's lock first, then the rows)."""
from django.core.exceptions import ValidationError
from django.utils import timezone

from ops_console.audit import log as audit
from ops_console.audit.log import record
from ops_console.incidents.actions import do_acknowledge
from ops_console.incidents.models import TransitionNotAllowed

from . import acklink
from .models import (ContactMethod, EscalationLevel, EscalationPolicy, MaintenanceWindow, Page, Rotation,
                     RotationMember, ScheduledLevel)


def _acknowledge(page, *, acting_user, via, now):
    """Acknowledge the page's incident; returns a sentence for the person."""
    Page.objects.filter(pk=page.pk, acknowledged_at=None).update(acknowledged_at=now)
    try:
        do_acknowledge(page.incident, acting_user=acting_user, via=via)
    except TransitionNotAllowed:
        page.incident.refresh_from_db()
        return f"{page.incident.reference} was already {page.incident.status}: nothing to acknowledge."
    return f"{page.incident.reference} acknowledged. Escalation to the next level is stopped."


@audit.atomic
def do_acknowledge_by_link(token, *, now=None):
    """Use a page's signed link: works once, until it expires. Raises LinkInvalid."""
    now = now or timezone.now()
    page = acklink.page_for_token(token, now)
    # The claim: of two requests with the same link, one sets link_used_at.
    if not Page.objects.filter(pk=page.pk, link_used_at=None).update(link_used_at=now):
        raise acklink.LinkInvalid("This acknowledge link was already used.", gone=True)
    record("page.link_used", obj=page, actor=page.user, after={"incident": page.incident.reference})
    return _acknowledge(page, acting_user=page.user, via="link", now=now)


@audit.atomic
def do_acknowledge_page(page, *, acting_user, now=None):
    if page.user_id != acting_user.pk:
        raise ValidationError("This page was sent to someone else.")
    return _acknowledge(page, acting_user=acting_user, via="web", now=now or timezone.now())


def _rotation_data(rotation):
    return {"handover_weekday": rotation.handover_weekday, "handover_time": rotation.handover_time,
            "timezone": rotation.timezone, "starts_on": rotation.starts_on,
            "members": [m.user.get_username() for m in rotation.members.select_related("user")]}


@audit.atomic
def do_save_rotation(role, *, handover_weekday, handover_time, timezone_name, starts_on, members, acting_user):
    rotation = Rotation.objects.select_for_update().filter(role=role).first()
    before = _rotation_data(rotation) if rotation else None
    rotation = rotation or Rotation(role=role)
    rotation.handover_weekday, rotation.handover_time = handover_weekday, handover_time
    rotation.timezone, rotation.starts_on = timezone_name, starts_on
    rotation.save()
    rotation.members.all().delete()
    RotationMember.objects.bulk_create(RotationMember(rotation=rotation, user=user, position=n)
                                       for n, user in enumerate(members))
    record("rotation.saved", obj=rotation, actor=acting_user, before=before, after=_rotation_data(rotation))
    return rotation


def _levels_data(policy):
    return [{"delay_minutes": lv.delay_minutes, "role": lv.role.slug, "stop_on": lv.stop_on,
             "repeat_every_minutes": lv.repeat_every_minutes} for lv in policy.levels.select_related("role")]


@audit.atomic
def do_save_policy(policy, *, name, description, levels, acting_user):
    """levels: [{"delay_minutes", "role", "stop_on", "repeat_every_minutes"}] in order. Live
    escalations keep the snapshot they were frozen with."""
    before = {"name": policy.name, "description": policy.description, "levels": _levels_data(policy)}
    delays = [level["delay_minutes"] for level in levels]
    if delays != sorted(delays):
        raise ValidationError("Levels must be in order of their delay.")
    policy.name, policy.description = name, description
    policy.save(update_fields=["name", "description", "updated_at"])
    policy.levels.all().delete()
    EscalationLevel.objects.bulk_create(EscalationLevel(policy=policy, position=n, **level)
                                        for n, level in enumerate(levels, start=1))
    record("escalation_policy.changed", obj=policy, actor=acting_user, before=before,
           after={"name": name, "description": description, "levels": _levels_data(policy)})
    return policy


@audit.atomic
def do_create_policy(*, severity, service, name, acting_user):
    """A per-service policy, starting as a copy of the severity's default."""
    if EscalationPolicy.objects.filter(severity=severity, service=service).exists():
        raise ValidationError(f"{service} already has a {severity} policy.")
    default = EscalationPolicy.objects.filter(severity=severity, service=None).first()
    policy = EscalationPolicy.objects.create(severity=severity, service=service, name=name,
                                             description=default.description if default else "")
    if default:
        EscalationLevel.objects.bulk_create(
            EscalationLevel(policy=policy, position=lv.position, delay_minutes=lv.delay_minutes, role_id=lv.role_id,
                            stop_on=lv.stop_on, repeat_every_minutes=lv.repeat_every_minutes)
            for lv in default.levels.all())
    record("escalation_policy.created", obj=policy, actor=acting_user,
           after={"severity": severity, "service": service.slug, "levels": _levels_data(policy)})
    return policy


def _window_data(window):
    return {"service": window.service.slug, "starts_at": window.starts_at, "ends_at": window.ends_at,
            "reason": window.reason, "ended_early_at": window.ended_early_at}


@audit.atomic
def do_create_window(*, service, starts_at, ends_at, reason, acting_user):
    if ends_at <= starts_at:
        raise ValidationError("A maintenance window must end after it starts.")
    if not (reason or "").strip():
        raise ValidationError("Say why: a maintenance window needs a reason.")
    window = MaintenanceWindow.objects.create(service=service, starts_at=starts_at, ends_at=ends_at,
                                              reason=reason.strip(), created_by=acting_user)
    record("maintenance.created", obj=window, actor=acting_user, after=_window_data(window))
    return window


@audit.atomic
def do_end_window(window, *, acting_user, now=None):
    """End (or cancel, before it starts) a window; levels it held back are due at once."""
    now = now or timezone.now()
    window = MaintenanceWindow.objects.select_for_update().select_related("service").get(pk=window.pk)
    end = window.series_end if window.cron else window.effective_end   # ending a series stops it
    if end is not None and end <= now:
        raise ValidationError("This maintenance window is already over.")
    before = _window_data(window)
    window.ended_early_at = now
    window.save(update_fields=["ended_early_at"])
    ScheduledLevel.objects.filter(held_by=window, status=ScheduledLevel.PENDING, due_at__gt=now).update(due_at=now)
    record("maintenance.ended", obj=window, actor=acting_user, before=before, after=_window_data(window))
    return window


def _method_data(method):
    # The audit log keeps the masked URL: a secret is never written twice.
    return {"url": method.masked_url, "label": method.label, "delay_minutes": method.delay_minutes,
            "position": method.position, "enabled": method.enabled}


@audit.atomic
def do_add_contact_method(user, *, url, label="", delay_minutes=0, acting_user):
    """url: an Apprise URL the form has checked (ContactMethodForm)."""
    last = ContactMethod.objects.filter(user=user).order_by("-position").values_list("position", flat=True).first()
    method = ContactMethod.objects.create(user=user, url=url, label=label, delay_minutes=delay_minutes,
                                          position=0 if last is None else last + 1)
    record("contact_method.added", obj=method, actor=acting_user, after={"user": user.get_username(),
                                                                          **_method_data(method)})
    return method


@audit.atomic
def do_change_contact_method(method, *, delay_minutes, enabled, acting_user):
    before = _method_data(method)
    method.delay_minutes, method.enabled = delay_minutes, enabled
    method.save(update_fields=["delay_minutes", "enabled"])
    record("contact_method.changed", obj=method, actor=acting_user, before=before, after=_method_data(method))
    return method


@audit.atomic
def do_move_contact_method(method, *, up, acting_user):
    """Swap the method with its neighbour in the person's order (up: earlier)."""
    mine = list(ContactMethod.objects.select_for_update().filter(user=method.user_id).order_by("position", "pk"))
    index = next(n for n, m in enumerate(mine) if m.pk == method.pk)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(mine):
        return method
    mine[index], mine[other] = mine[other], mine[index]
    for position, m in enumerate(mine):
        if m.position != position:
            m.position = position
            m.save(update_fields=["position"])
    record("contact_method.moved", obj=method, actor=acting_user,
           after={"order": [m.masked_url for m in mine]})
    return method


@audit.atomic
def do_delete_contact_method(method, *, acting_user):
    record("contact_method.deleted", obj=method, actor=acting_user, before=_method_data(method))
    method.delete()
