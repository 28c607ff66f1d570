"""Postmortems: a Markdown draft built from the incident's record, and saving
each edit as a new version (with the audit entry in the same transaction)."""
import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from ops_console.audit.log import atomic, record

from .models import Postmortem, PostmortemVersion

# The metrics window opens this long before detection and closes this long after resolution.
METRICS_MARGIN = dt.timedelta(minutes=30)
BODY_MAX_CHARS = 200_000


class StaleVersion(ValidationError):
    """Someone saved a newer version since the editor opened this one."""


def _utc(moment):
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def metrics_window(incident, now=None):
    end = incident.resolved_at or now or timezone.now()
    return incident.detected_at - METRICS_MARGIN, end + METRICS_MARGIN


def draft(incident, now=None):
    """The first text of a postmortem, filled in from the incident's record."""
    start, end = metrics_window(incident, now)
    services = list(incident.services.all())
    lines = [
        f"# Postmortem: {incident.reference} {incident.title}", "",
        f"- Severity: {incident.severity.code} {incident.severity.name}",
        f"- Status: {incident.status}",
        f"- Services: {', '.join(s.name for s in services) or '—'}",
        f"- Commander: {incident.commander.get_username() if incident.commander_id else '—'}",
        f"- Detected: {_utc(incident.detected_at)}",
        f"- Acknowledged: {_utc(incident.acknowledged_at)}",
        f"- Resolved: {_utc(incident.resolved_at)}", "",
        "## Summary", "", incident.summary.strip() or "_What happened, in two or three sentences._", "",
        "## Impact", "", incident.impact.strip() or "_Who was affected, how, and for how long._", "",
        "## Timeline", "", "| Time (UTC) | Event | By | Details |", "| --- | --- | --- | --- |",
    ]
    for event in incident.timeline.all().order_by("created_at", "pk")[:500]:
        details = " ".join(event.message.split()).replace("|", "\\|")[:300]
        lines.append(f"| {_utc(event.created_at)} | {event.get_kind_display()} | {event.actor_name or 'system'} "
                     f"| {details} |")
    lines += ["", "## Runbook runs", ""]
    links = incident.run_links.select_related("run__runbook", "run__version", "run__started_by").order_by("created_at")
    for link in links:
        run = link.run
        who = run.started_by.get_username() if run.started_by_id else "system"
        lines.append(f"- [run {run.pk}]({settings.BASE_URL}/runs/{run.pk}/): {run.runbook.title} "
                     f"v{run.version.number}, {run.status}, started by {who} at {_utc(run.created_at)}")
    if not links:
        lines.append("_No runbook was run._")
    lines += ["", "## Metrics window", "", f"From {_utc(start)} to {_utc(end)}."]
    for service in services:
        lines.append(f"- [{service.name}]({settings.BASE_URL}/services/{service.slug}/"
                     f"?start={int(start.timestamp())}&end={int(end.timestamp())})")
    lines += ["", "## Root cause", "", "_Why it happened._", "",
              "## What went well", "", "- ", "", "## What went wrong", "", "- ", "",
              "## Action items", "", "| Action | Owner | Due |", "| --- | --- | --- |", "|  |  |  |", ""]
    return "\n".join(lines)


@atomic  # it locks the postmortem's row and records: the chain's lock comes first
def do_save_postmortem(incident, body, *, acting_user, base_number=None, note=""):
    """Save `body` as the next version. base_number is the version the editor
    started from: when someone saved after it, StaleVersion (nothing is lost:
    the caller shows the text again)."""
    body = (body or "").replace("\r\n", "\n")
    if not body.strip():
        raise ValidationError("The postmortem is empty.")
    if len(body) > BODY_MAX_CHARS:
        raise ValidationError(f"The postmortem is longer than {BODY_MAX_CHARS} characters.")
    now = timezone.now()
    postmortem, created = Postmortem.objects.select_for_update().get_or_create(
        incident=incident, defaults={"created_at": now, "created_by": acting_user})
    latest = postmortem.latest
    current = latest.number if latest else 0
    if (base_number or 0) != current:
        raise StaleVersion(f"Someone saved version {current} "
                           f"after you opened version {base_number or 0}. Your text is below: merge it with "
                           f"version {current} and save again.")
    if latest and latest.body == body:
        raise ValidationError("Nothing changed since version %(n)s.", params={"n": current})
    version = PostmortemVersion.objects.create(
        postmortem=postmortem, number=current + 1, body=body, created_at=now, created_by=acting_user,
        created_by_name=acting_user.get_username(), note=note[:300])
    postmortem.latest = version
    postmortem.save(update_fields=["latest"])
    record("postmortem.saved", obj=postmortem, actor=acting_user,
           before={"version": current} if current else None,
           after={"version": version.number, "chars": len(body), "note": version.note},
           object_repr=f"Postmortem of {incident.reference}")
    return version
