"""/api/v1/incidents/{reference}/postmortem: read an incident's postmortem (the
latest version, any version, the draft built from the record) and save a new
version through history.postmortems.do_save_postmortem, as the edit page does."""
from datetime import datetime

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, Query, Router, Schema
from ninja import Status as Answer

from ops_console.history import postmortems
from ops_console.history.models import Postmortem, PostmortemVersion

from .auth import Needs
from .errors import ApiError
from .incidents import get_incident
from .paging import DEFAULT_LIMIT, page_of

router = Router(tags=["postmortems"])
# The pages' permissions (history/views/postmortems.py): reading is everyone's with a role, writing the commander's.
VIEW, EDIT = "history.view_postmortem", "history.edit_postmortem"


class VersionSummary(Schema):
    number: int
    created_at: datetime
    created_by: str
    note: str


class VersionPage(Schema):
    items: list[VersionSummary]
    next: int | None


class PostmortemOut(Schema):
    incident: str
    number: int = Field(description="this version's number; the latest is `latest`")
    latest: int
    body: str = Field(description="Markdown")
    created_at: datetime
    created_by: str
    note: str
    url: str


class DraftOut(Schema):
    incident: str
    body: str = Field(description="Markdown built from the incident's record, as the editor's first text")


class SaveIn(Schema):
    body: str = Field(..., min_length=1, max_length=postmortems.BODY_MAX_CHARS, description="Markdown")
    base_version: int = Field(0, ge=0, description="the version this text was edited from (0 for the first "
                                                   "save); if someone saved after it, 409 and nothing is saved")
    note: str = Field("", max_length=300, description="what this version changed")


def version_out(version, latest):
    reference = version.postmortem.incident.reference
    return {"incident": reference, "number": version.number, "latest": latest, "body": version.body,
            "created_at": version.created_at, "created_by": version.created_by_name, "note": version.note,
            "url": reverse("history:postmortem_version", args=[reference, version.number])}


def _postmortem(reference):
    incident = get_incident(reference)
    postmortem = Postmortem.objects.filter(incident=incident).select_related("latest", "incident").first()
    if postmortem is None or postmortem.latest is None:
        raise Http404(f"{incident.reference} has no postmortem yet (its draft: GET "
                      f"/api/v1/incidents/{incident.reference}/postmortem/draft).")
    postmortem.latest.postmortem = postmortem  # version_out reads the incident through it: no second query
    return postmortem


@router.get("/incidents/{reference}/postmortem", response=PostmortemOut, summary="Read the latest postmortem",
            auth=Needs(VIEW))
def read_postmortem(request, reference: str):
    postmortem = _postmortem(reference)
    return version_out(postmortem.latest, postmortem.latest.number)


@router.get("/incidents/{reference}/postmortem/versions", response=VersionPage,
            summary="The postmortem's versions, newest first", auth=Needs(VIEW, "history.view_postmortemversion"))
def list_versions(request, reference: str, cursor: int | None = None,
                  limit: int = Query(DEFAULT_LIMIT, ge=1, le=200)):
    postmortem = _postmortem(reference)
    items, next_cursor = page_of(postmortem.versions.only("id", "number", "created_at", "created_by_name", "note"),
                                 cursor, limit)
    return {"items": [{"number": v.number, "created_at": v.created_at, "created_by": v.created_by_name,
                       "note": v.note} for v in items], "next": next_cursor}


@router.get("/incidents/{reference}/postmortem/versions/{number}", response=PostmortemOut,
            summary="Read one version of the postmortem", auth=Needs(VIEW, "history.view_postmortemversion"))
def read_postmortem_version(request, reference: str, number: int):
    postmortem = _postmortem(reference)
    version = get_object_or_404(PostmortemVersion.objects.select_related("postmortem__incident"),
                                postmortem=postmortem, number=number)
    return version_out(version, postmortem.latest.number)


@router.get("/incidents/{reference}/postmortem/draft", response=DraftOut,
            summary="The draft built from the incident's record", auth=Needs(VIEW))
def read_draft(request, reference: str):
    incident = get_incident(reference)
    return {"incident": incident.reference, "body": postmortems.draft(incident)}


@router.post("/incidents/{reference}/postmortem", response={201: PostmortemOut},
             summary="Save a new version of the postmortem (the first one creates it)", auth=Needs(EDIT, write=True))
def save_postmortem(request, reference: str, payload: SaveIn):
    incident = get_incident(reference)
    try:
        version = postmortems.do_save_postmortem(incident, payload.body, acting_user=request.user,
                                                 base_number=payload.base_version, note=payload.note)
    except postmortems.StaleVersion as exc:
        latest = Postmortem.objects.filter(incident=incident).values_list("latest__number", flat=True).first()
        raise ApiError(409, f"Someone saved version {latest} after version {payload.base_version}: merge your "
                            f"text with version {latest} and save again with base_version {latest}.",
                       {"field": "base_version", "latest": latest}) from None
    except ValidationError as exc:  # empty, too long, or the same text as the latest version
        raise ApiError(400, " ".join(exc.messages), {"field": "body"}) from None
    return Answer(201, version_out(version, version.number))
