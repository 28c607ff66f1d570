"""/api/v1/oncall: who holds each response role now and who is next (the on-call page)."""
from datetime import datetime

from django.utils import timezone
from ninja import Router, Schema

from ops_console.escalation.oncall import on_call_board

from .auth import Needs

router = Router(tags=["on-call"])


class OnCallRow(Schema):
    role: str
    role_name: str
    has_rotation: bool
    now: str | None
    now_until: datetime | None
    override: bool
    next: str | None
    next_from: datetime | None


class OnCallOut(Schema):
    at: datetime
    roles: list[OnCallRow]


def _name(user):
    return user.get_username() if user else None


@router.get("/oncall", response=OnCallOut, summary="Who is on call now and next, per role",
            auth=Needs("escalation.view_rotation"))
def oncall(request):
    now = timezone.now()
    rows = []
    for role, rotation, shift, next_user, next_from in on_call_board(now):
        rows.append({"role": role.slug, "role_name": role.name, "has_rotation": rotation is not None,
                     "now": _name(shift.user) if shift else None, "now_until": shift.ends_at if shift else None,
                     "override": bool(shift and shift.override), "next": _name(next_user), "next_from": next_from})
    return {"at": now, "roles": rows}
