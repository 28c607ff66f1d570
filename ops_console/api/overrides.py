"""/api/v1/oncall/{role}/overrides: someone else holds a role for a while (a swap,
a holiday). The calendar page's rules and actions (escalation.overrides): a
rotation's member takes shifts for themselves, commanders and admins for anyone;
do_create_override / do_delete_override decide and write the page's audit entries."""
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja import Status as Answer

from ops_console.escalation import overrides
from ops_console.escalation.forms import users_by_name
from ops_console.escalation.models import ResponseRole, Rotation, RotationOverride

from .auth import Needs
from .errors import ApiError
from .paging import DEFAULT_LIMIT, page_of

router = Router(tags=["on-call"])
# The rotation calendar's permissions (escalation/rotation_views.py): reading is the on-call
# board's; adding and removing need the self-service permission, and do_* then asks whether this
# person may act for that one (PermissionDenied: 403).
VIEW = "escalation.view_rotation"


class OverrideOut(Schema):
    id: int
    role: str
    user: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_at: datetime


class OverridePage(Schema):
    items: list[OverrideOut]
    next: int | None


class OverrideIn(Schema):
    user: str = Field("", max_length=150, description="the user name of who holds the role; empty: yourself "
                                                       "(only commanders and admins name someone else)")
    starts_at: datetime = Field(..., description="ISO 8601; without a zone, UTC (as on the page)")
    ends_at: datetime = Field(..., description="ISO 8601; without a zone, UTC; after starts_at")
    reason: str = Field("", max_length=200)


def override_out(o, role):
    return {"id": o.pk, "role": role.slug, "user": o.user.get_username(), "starts_at": o.starts_at,
            "ends_at": o.ends_at, "reason": o.reason, "created_at": o.created_at}


def _utc(moment):
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


@router.get("/oncall/{role}/overrides", response=OverridePage, auth=Needs(VIEW),
            summary="A role's overrides, newest first (those not yet over, unless past=true)")
def list_overrides(request, role: str, past: bool = Query(False, description="include those already over"),
                   cursor: int | None = None, limit: int = Query(DEFAULT_LIMIT, ge=1, le=200)):
    role = get_object_or_404(ResponseRole, slug=role)
    found = RotationOverride.objects.filter(rotation__role=role).select_related("user")
    if not past:
        found = found.filter(ends_at__gt=timezone.now())
    items, next_cursor = page_of(found, cursor, limit)
    return {"items": [override_out(o, role) for o in items], "next": next_cursor}


@router.post("/oncall/{role}/overrides", response={201: OverrideOut}, summary="Add an override",
             auth=Needs(overrides.SELF_ADD, write=True))
def add_override(request, role: str, payload: OverrideIn):
    role = get_object_or_404(ResponseRole, slug=role)
    rotation = Rotation.objects.filter(role=role).first()
    if rotation is None:
        raise ApiError(409, "Save the rotation first: an override replaces someone in it.")
    name = payload.user.strip()
    try:
        user = users_by_name([name])[0] if name and name != request.user.get_username() else request.user
    except ValidationError as exc:
        raise ApiError(400, " ".join(exc.messages), {"field": "user"}) from None
    try:
        override = overrides.do_create_override(request.user, rotation, user, _utc(payload.starts_at),
                                                _utc(payload.ends_at), reason=payload.reason)
    except overrides.OverrideOverlaps as exc:
        raise ApiError(409, " ".join(exc.messages), {"field": "starts_at"}) from None
    except ValidationError as exc:  # ends before it starts, an inactive user
        raise ApiError(400, " ".join(exc.messages), {"field": "ends_at"}) from None
    return Answer(201, override_out(override, role))


@router.delete("/oncall/{role}/overrides/{override_id}", response={204: None}, summary="Remove an override",
               auth=Needs(overrides.SELF_DELETE, write=True))
def remove_override(request, role: str, override_id: int):
    override = get_object_or_404(RotationOverride.objects.select_related("rotation__role", "user"), pk=override_id,
                                 rotation__role__slug=role)
    try:
        overrides.do_delete_override(request.user, override)
    except ValidationError as exc:  # removed meanwhile by someone else
        raise ApiError(404, " ".join(exc.messages)) from None
    return Answer(204, None)
