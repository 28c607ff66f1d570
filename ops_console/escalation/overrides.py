"""Shift overrides: who may take or swap a shift for whom, and the do_*
actions that write them. An override never overlaps another of the same
rotation, so the calendar and the pager always agree on one holder.

Who may: a rotation's member may take a shift or swap one for themselves
(escalation.add_rotationoverride, delete_rotationoverride for their own);
whoever may change any override (escalation.change_rotationoverride:
commanders and admins) may do it for anyone."""
from django.core.exceptions import PermissionDenied, ValidationError

from ops_console.audit import log as audit
from ops_console.audit.log import record

from .models import Rotation, RotationOverride

SELF_ADD, SELF_DELETE, ANYONE = ("escalation.add_rotationoverride", "escalation.delete_rotationoverride",
                                 "escalation.change_rotationoverride")


class OverrideOverlaps(ValidationError):
    """The new override overlaps one already there: it is refused, not stacked."""


def is_member(rotation, user):
    return rotation.members.filter(user=user).exists()


def may_override_for_others(actor):
    return actor.has_perm(ANYONE)


def may_take_shifts(actor, rotation):
    """May `actor` put themselves into this rotation's calendar?"""
    return may_override_for_others(actor) or (actor.has_perm(SELF_ADD) and is_member(rotation, actor))


def may_create(actor, rotation, user):
    if may_override_for_others(actor):
        return True
    return actor.pk == user.pk and actor.has_perm(SELF_ADD) and is_member(rotation, actor)


def may_swap(actor, rotation, user, other):
    """A swap hands the actor's shift to `other` and takes one of theirs: a member may swap their own."""
    if may_override_for_others(actor):
        return True
    return actor.pk in (user.pk, other.pk) and actor.has_perm(SELF_ADD) and is_member(rotation, actor)


def may_delete(actor, override):
    if may_override_for_others(actor):
        return True
    return override.user_id == actor.pk and actor.has_perm(SELF_DELETE)


def _data(override):
    return {"user": override.user.get_username(), "starts_at": override.starts_at, "ends_at": override.ends_at,
            "reason": override.reason}


def _lock(rotation):
    # The rotation row is the lock for its overrides: two people taking the same hours
    # at once are serialised and the second sees the first's override. (audit.atomic's
    # chain-head lock serialises them today too; this one says what is protected.)
    return Rotation.objects.select_for_update().get(pk=rotation.pk)


def overlapping(rotation, start, end, exclude=()):
    return (RotationOverride.objects.filter(rotation=rotation, starts_at__lt=end, ends_at__gt=start)
            .exclude(pk__in=[o.pk for o in exclude]).select_related("user").order_by("starts_at"))


def _check(rotation, user, start, end):
    if end <= start:
        raise ValidationError("An override must end after it starts.")
    if not user.is_active:
        raise ValidationError(f"{user.get_username()} is not an active user.")
    clash = overlapping(rotation, start, end).first()
    if clash:
        raise OverrideOverlaps(
            f"This overlaps {clash.user.get_username()}'s override from {clash.starts_at:%Y-%m-%d %H:%M} to "
            f"{clash.ends_at:%Y-%m-%d %H:%M} UTC. Remove that one first, or choose hours outside it.")


def _create(rotation, user, start, end, reason):
    override = RotationOverride.objects.create(rotation=rotation, user=user, starts_at=start, ends_at=end,
                                               reason=reason)
    override.user = user
    return override


@audit.atomic
def do_create_override(actor, rotation, user, start, end, reason=""):
    """`user` holds the rotation's role from `start` until `end`. Raises
    PermissionDenied, or ValidationError (OverrideOverlaps for an overlap)."""
    if not may_create(actor, rotation, user):
        raise PermissionDenied("You may take shifts only for yourself, on a rotation you are a member of.")
    rotation = _lock(rotation)
    reason = (reason or "").strip()
    _check(rotation, user, start, end)
    override = _create(rotation, user, start, end, reason)
    record("rotation.override_added", obj=rotation, actor=actor, after=_data(override))
    return override


@audit.atomic
def do_swap_shifts(actor, rotation, user, other, first, second, reason=""):
    """A swap: `other` holds the role over `first` (start, end), `user` over
    `second`; both overrides or neither. Returns the two overrides."""
    if not may_swap(actor, rotation, user, other):
        raise PermissionDenied("You may swap only your own shifts, on a rotation you are a member of.")
    if user.pk == other.pk:
        raise ValidationError("A swap needs two different people.")
    rotation = _lock(rotation)
    reason = (reason or "").strip() or f"swap of {user.get_username()} and {other.get_username()}"
    (s1, e1), (s2, e2) = first, second
    if s1 < e2 and s2 < e1:
        raise ValidationError("The two shifts of a swap must not overlap each other.")
    _check(rotation, other, s1, e1)
    _check(rotation, user, s2, e2)
    made = [_create(rotation, other, s1, e1, reason), _create(rotation, user, s2, e2, reason)]
    record("rotation.shifts_swapped", obj=rotation, actor=actor, after={"overrides": [_data(o) for o in made]})
    return made


@audit.atomic
def do_delete_override(actor, override):
    if not may_delete(actor, override):
        raise PermissionDenied("You may remove only your own overrides.")
    _lock(override.rotation)
    before = _data(override)
    deleted, _ = RotationOverride.objects.filter(pk=override.pk).delete()
    if not deleted:
        raise ValidationError("This override was already removed.")
    record("rotation.override_removed", obj=override.rotation, actor=actor, before=before)
