"""/api/v1/audit: the audit log, for auditors (audit.view_auditentry), filtered
as on the audit page."""
from datetime import date, datetime

from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from ops_console.audit.forms import AuditFilterForm
from ops_console.audit.models import AuditEntry

from .auth import Needs
from .errors import ApiError
from .paging import DEFAULT_LIMIT, page_of

router = Router(tags=["audit"])


class EntryOut(Schema):
    id: int
    created_at: datetime
    actor: str
    ip: str | None
    request_id: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    before: dict | list | None
    after: dict | list | None
    hash: str


class EntryPage(Schema):
    items: list[EntryOut]
    next: int | None


class AuditFilters(Schema):
    actor: str | None = Field(None, description="user name")
    action: str | None = Field(None, description="an action, or a prefix ending in '.', e.g. incident.")
    object: str | None = Field(None, description="type, or type:id, e.g. incidents.incident:42")
    since: date | None = None
    until: date | None = None
    cursor: int | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=200)


def entry_out(e):
    return {"id": e.pk, "created_at": e.created_at, "actor": e.actor_name, "ip": e.ip, "request_id": e.request_id,
            "action": e.action, "object_type": e.object_type, "object_id": e.object_id,
            "object_repr": e.object_repr, "before": e.before, "after": e.after, "hash": e.hash}


@router.get("/audit", response=EntryPage, summary="The audit log, newest first", auth=Needs("audit.view_auditentry"))
def audit_log(request, filters: Query[AuditFilters]):
    data = {k: v for k, v in filters.dict().items() if k not in ("cursor", "limit") and v not in (None, "")}
    form = AuditFilterForm(data or None)
    if form.is_bound and not form.is_valid():
        raise ApiError(400, "The filters are not valid.", {name: list(errs) for name, errs in form.errors.items()})
    entries = form.filter(AuditEntry.objects.all()) if form.is_bound else AuditEntry.objects.all()
    items, next_cursor = page_of(entries, filters.cursor, filters.limit)
    return {"items": [entry_out(e) for e in items], "next": next_cursor}


@router.get("/audit/{entry_id}", response=EntryOut, summary="One audit entry", auth=Needs("audit.view_auditentry"))
def audit_entry(request, entry_id: int):
    return entry_out(get_object_or_404(AuditEntry, pk=entry_id))
