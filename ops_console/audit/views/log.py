"""The audit log: filter, page through a million entries, open one, export a period."""
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from ops_console.ui.access import check, require
from ops_console.ui.exports import bad_filter, csv_response, json_response
from ops_console.ui.paging import keyset_page, query_without_cursor

from ..forms import AuditFilterForm
from ..models import HASHED_FIELDS, AuditEntry

PAGE_SIZE = 50
EXPORT_FIELDS = ("id", "created_at", "actor_id", "actor_name", "ip", "request_id", "action", "object_type",
                 "object_id", "object_repr", "before", "after", "prev_hash", "hash", "seal")


def _filtered(request):
    form = AuditFilterForm(request.GET or None)
    queryset = AuditEntry.objects.all()
    return form, (form.filter(queryset) if form.is_bound else queryset)


@require_GET
@require()  # the audit log itself needs audit.view_auditentry, checked inside
def index(request):
    if not request.user.has_perm("audit.view_auditentry"):
        # The "Audit" tab leads everyone else who may read incidents to their history.
        check(request.user, "incidents.view_incident")
        return redirect("history:incidents")
    form, entries = _filtered(request)
    page = keyset_page(entries.only("id", "created_at", "actor_name", "ip", "action", "object_type", "object_id",
                                    "object_repr"), request.GET, size=PAGE_SIZE)
    return render(request, "audit/index.html", {"form": form, "page": page, "query": query_without_cursor(request.GET)})


@require_GET
@require("audit.view_auditentry")
def entry(request, entry_id):
    entry = get_object_or_404(AuditEntry, pk=entry_id)
    # Chain order is id order (record() appends under a lock), so the neighbours
    # are found on the primary key; the template says whether their hashes link.
    previous = AuditEntry.objects.filter(id__lt=entry.id).order_by("-id").only("id", "hash").first()
    following = AuditEntry.objects.filter(id__gt=entry.id).order_by("id").only("id", "prev_hash").first()
    return render(request, "audit/entry.html", {
        "entry": entry, "diff": entry.diff(), "hash_ok": entry.compute_hash() == entry.hash,
        "previous": previous, "following": following,
    })


@require_GET
@require("audit.export_auditentry")
def export(request, fmt):
    form, entries = _filtered(request)
    if form.is_bound and not form.is_valid():
        return bad_filter(form)
    rows = entries.order_by("id").values_list(*EXPORT_FIELDS).iterator(chunk_size=2000)
    name = f"audit-log-{form.filename_part()}.{fmt}"
    if fmt == "csv":
        return csv_response(name, EXPORT_FIELDS, rows)
    return json_response(name, (_exact(dict(zip(EXPORT_FIELDS, row))) for row in rows),
                         wrapper={"hashed_fields": HASHED_FIELDS})


def _exact(row):
    # Full microseconds (the JSON encoder would cut them to milliseconds), so
    # each hash can be recomputed from the export alone.
    row["created_at"] = row["created_at"].isoformat()
    return row

