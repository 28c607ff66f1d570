"""Small builders of the other apps' objects, for history, reports and the URL walk."""
import datetime as dt
import itertools

from django.utils import timezone

_seq = itertools.count(1)
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc)


def user(username=None):
    """A user without a password (hashing one takes a good fraction of a second)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create(username=username or f"user-{next(_seq)}")


def severity(code="P1"):
    from ops_console.incidents.models import Severity

    return Severity.objects.get(code=code)


def service(slug=None, **kw):
    from ops_console.monitoring.models import Service

    slug = slug or f"svc-{next(_seq)}"
    return Service.objects.get_or_create(slug=slug, defaults={"name": slug.title(), **kw})[0]


def incident(title="Backend error rate high", sev="P1", *, detected=T0, ack_after=None, resolve_after=None,
             status=None, commander=None, services=(), summary="", impact="", events=()):
    """An incident detected at `detected`, acknowledged/resolved the given
    timedeltas later; events: [(kind, message, minutes after detected)]."""
    from ops_console.incidents.models import Incident, TimelineEvent

    acked = detected + ack_after if ack_after is not None else None
    resolved = detected + resolve_after if resolve_after is not None else None
    status = status or ("resolved" if resolved else "acknowledged" if acked else "triggered")
    inc = Incident.objects.create(title=title, severity=severity(sev), status=status, commander=commander,
                                  summary=summary, impact=impact, detected_at=detected, created_at=detected,
                                  updated_at=resolved or acked or detected, acknowledged_at=acked, resolved_at=resolved)
    if services:
        inc.services.set(services)
    TimelineEvent.objects.create(incident=inc, kind="opened", message=f"Opened as {sev}.", created_at=detected)
    if acked:
        TimelineEvent.objects.create(incident=inc, kind="acknowledged", message="Acknowledged.", created_at=acked)
    for kind, message, minutes in events:
        TimelineEvent.objects.create(incident=inc, kind=kind, message=message,
                                     created_at=detected + dt.timedelta(minutes=minutes))
    if resolved:
        TimelineEvent.objects.create(incident=inc, kind="status_change", message="Resolved.", created_at=resolved,
                                     data={"from": "acknowledged", "to": "resolved"})
    return inc


def runbook(slug=None, source="# Restart\n\n```shell\nsystemctl restart app\n```\n"):
    from ops_console.runbooks.document import RunbookDocument, Step
    from ops_console.runbooks.models import Runbook, RunbookVersion, sha256_of

    slug = slug or f"runbook-{next(_seq)}"
    book = Runbook.objects.create(slug=slug, title=slug.replace("-", " ").title())
    document = RunbookDocument(slug=slug, title=book.title,
                               steps=[Step(index=i, kind="shell", title=f"Step {i + 1}", body=f"echo step {i + 1}")
                                      for i in range(3)])
    version = RunbookVersion.objects.create(runbook=book, number=1, source=source, sha256=sha256_of(source),
                                            document=document.to_json())
    book.current_version = version
    book.save(update_fields=["current_version"])
    return book


def run(book=None, *, incident=None, started_by=None, status="succeeded", steps=(("succeeded", None, None),),
        parameters=None, at=None):
    """steps: [(status, confirmed_by, approved_by)], at most three (the runbook's)."""
    from ops_console.incidents.models import IncidentRun
    from ops_console.runbooks.models import Run, StepRun

    book = book or runbook()
    the_run = Run.objects.create(runbook=book, version=book.current_version, parameters=parameters or {"env": "prod"},
                                 status=status, started_by=started_by,
                                 context={"incident": incident.reference} if incident else {})
    if at:
        Run.objects.filter(pk=the_run.pk).update(created_at=at)
        the_run.refresh_from_db()
    for index, (step_status, confirmed_by, approved_by) in enumerate(steps):
        StepRun.objects.create(run=the_run, index=index, kind="shell", title=f"Step {index + 1}", status=step_status,
                               command=f"echo step {index + 1}", output=f"output of step {index + 1}\n",
                               exit_code=0 if step_status == "succeeded" else 1,
                               confirmed_by=confirmed_by, confirmed_at=timezone.now() if confirmed_by else None,
                               approved_by=approved_by, approved_at=timezone.now() if approved_by else None)
    if incident:
        IncidentRun.objects.create(incident=incident, run=the_run)
    return the_run


def page(incident, user, *, at=None, acknowledged=False):
    from ops_console.escalation.models import Page, ScheduledLevel

    at = at or incident.detected_at
    level = ScheduledLevel.objects.create(incident=incident, generation=1, level=next(_seq) % 30000, role_slug="sre",
                                          role_name="On-call SRE", stop_on="ack", due_at=at, status="fired",
                                          fired_at=at)
    return Page.objects.create(step=level, incident=incident, user=user, role_name="On-call SRE", level=level.level,
                               created_at=at, link_expires_at=at + dt.timedelta(hours=1),
                               acknowledged_at=at + dt.timedelta(minutes=3) if acknowledged else None)
