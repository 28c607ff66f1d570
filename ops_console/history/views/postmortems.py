"""Postmortems kept with an incident: read (auditors too), edit (commanders),
every save a new version, export as Markdown."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ops_console.ui.access import require
from ops_console.ui.markdown import render as markdown

from .. import postmortems
from ..models import Postmortem, PostmortemVersion
from .incidents import incident_or_404

VIEW, EDIT = "history.view_postmortem", "history.edit_postmortem"


def _postmortem(incident):
    return Postmortem.objects.filter(incident=incident).select_related("latest").first()


@require_GET
@require(VIEW)
def detail(request, reference):
    incident = incident_or_404(reference)
    postmortem = _postmortem(incident)
    versions = list(postmortem.versions.only("number", "created_at", "created_by_name", "note")) if postmortem else []
    shown = postmortem.latest if postmortem else None
    return render(request, "history/postmortem.html", {
        "incident": incident, "postmortem": postmortem, "version": shown, "versions": versions,
        "html": markdown(shown.body) if shown else "", "can_edit": request.user.has_perm(EDIT),
    })


@require_GET
@require(VIEW)
def version(request, reference, number):
    incident = incident_or_404(reference)
    shown = get_object_or_404(PostmortemVersion, postmortem__incident=incident, number=number)
    postmortem = shown.postmortem
    return render(request, "history/postmortem.html", {
        "incident": incident, "postmortem": postmortem, "version": shown,
        "versions": list(postmortem.versions.only("number", "created_at", "created_by_name", "note")),
        "html": markdown(shown.body), "can_edit": False, "old": shown.pk != postmortem.latest_id,
    })


@require_http_methods(["GET", "POST"])
@require(EDIT)
def edit(request, reference):
    incident = incident_or_404(reference)
    postmortem = _postmortem(incident)
    latest = postmortem.latest if postmortem else None
    body = latest.body if latest else postmortems.draft(incident)
    base, note, error = (latest.number if latest else 0), "", ""
    if request.method == "POST":
        body, note = request.POST.get("body", ""), request.POST.get("note", "")
        try:
            base = int(request.POST.get("base", "0") or 0)
            saved = postmortems.do_save_postmortem(incident, body, acting_user=request.user, base_number=base,
                                                   note=note)
        except ValueError:
            error = "The form was damaged (bad base version); your text is kept below."
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, f"Saved version {saved.number} of the postmortem.")
            return redirect("history:postmortem", reference=incident.reference)
    return render(request, "history/postmortem_edit.html", {
        "incident": incident, "body": body, "base": base, "note": note, "error": error, "is_draft": latest is None,
    }, status=409 if error and "saved version" in error else 400 if error else 200)


@require_GET
@require(VIEW)
def export(request, reference):
    incident = incident_or_404(reference)
    number = request.GET.get("version")
    versions = PostmortemVersion.objects.filter(postmortem__incident=incident)
    if number and number.isdigit():
        shown = get_object_or_404(versions, number=int(number))
    else:
        shown = versions.order_by("-number").first()
    body = shown.body if shown else postmortems.draft(incident)
    suffix = f"-v{shown.number}" if shown else "-draft"
    response = HttpResponse(body, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{incident.reference}-postmortem{suffix}.md"'
    return response
