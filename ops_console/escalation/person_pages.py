"""Pages to one named person rather than to an escalation level: someone made
commander or added as a responder is paged once; whoever acknowledged an
incident still open after its severity's update cadence is reminded, once per
cadence (oncall#1792). "Once" is the database's: one page per incident,
person, reason and round."""
from django.db import IntegrityError, transaction
from django.utils import timezone

from ops_console.incidents.models import Incident, Status, TimelineEvent
from ops_console.incidents.timeline import Kind, add_event

from . import notify
from .models import Page

ROLE_NAMES = {Page.COMMANDER: "Incident commander", Page.RESPONDER: "Responder",
              Page.REMINDER: "Acknowledged, still open"}


def page_person(incident, user, reason, now=None, *, round=0):
    """Page `user` about `incident` for `reason`, unless that page exists. Returns the new page or None."""
    if user is None or not user.is_active:
        return None
    now = now or timezone.now()
    try:
        with transaction.atomic():  # a savepoint: the constraint says whether this page was already sent
            page = Page.objects.create(incident=incident, user=user, reason=reason, round=round, level=0,
                                       role_name=ROLE_NAMES[reason], created_at=now,
                                       link_expires_at=now + notify.ack_link_ttl())
    except IntegrityError:
        return None
    why = {Page.COMMANDER: "made incident commander", Page.RESPONDER: "added as a responder",
           Page.REMINDER: f"acknowledged and still open after {round} update interval{'s' if round > 1 else ''}"}
    add_event(incident, Kind.PAGED, at=now, message=f"Paged {user.get_username()}: {why[reason]}.",
              data={"page": page.pk, "reason": reason, "round": round, "user": user.get_username()})
    notify.plan_deliveries([page], now)
    return page


def remind_acknowledged(now=None):
    """Re-notify whoever acknowledged each incident that is still acknowledged
    (not mitigated or resolved) after its severity's update cadence: once per
    cadence. Returns the pages sent."""
    now = now or timezone.now()
    sent = []
    candidates = (Incident.objects.filter(status=Status.ACKNOWLEDGED, acknowledged_at__isnull=False,
                                          severity__update_cadence__isnull=False)
                  .select_related("severity"))
    for incident in candidates:
        cadence = incident.severity.update_cadence
        if not cadence or now - incident.acknowledged_at < cadence:
            continue
        rounds = int((now - incident.acknowledged_at) / cadence)
        user = acknowledged_by(incident)
        if user is None or Page.objects.filter(incident=incident, user=user, reason=Page.REMINDER,
                                               round=rounds).exists():
            continue
        with transaction.atomic():
            page = page_person(incident, user, Page.REMINDER, now, round=rounds)
        if page:
            sent.append(page)
    return sent


def acknowledged_by(incident):
    """Who acknowledged the incident last (the timeline keeps the actor)."""
    event = (TimelineEvent.objects.filter(incident=incident, kind=Kind.ACKNOWLEDGED, actor__isnull=False)
             .select_related("actor").order_by("-created_at", "-pk").first())
    return event.actor if event else None
