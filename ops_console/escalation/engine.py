"""The escalation engine. The schedule is rows in the database (one per
incident, level and repeat, with a due time); `fire_due` claims due rows with
SELECT ... FOR UPDATE SKIP LOCKED plus a conditional UPDATE, so several beat or
worker processes never fire a level twice (and Page.step is unique besides).
Every function takes `now` so tests control the clock."""
import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from ops_console.incidents.models import Incident, Status
from ops_console.incidents.timeline import Kind, add_event

from . import matrix, notify
from .maintenance import holding_window
from .models import Escalation, EscalationLevel, Page, ScheduledLevel
from .oncall import who_holds

log = logging.getLogger(__name__)
PENDING, FIRED, CANCELLED = ScheduledLevel.PENDING, ScheduledLevel.FIRED, ScheduledLevel.CANCELLED
OVERDUE = timedelta(minutes=1)
BATCH = 100


def start(incident, now=None):
    """Freeze the policy in force onto the incident and schedule its levels. Idempotent."""
    now = now or timezone.now()
    if Escalation.objects.filter(incident=incident).exists():
        return
    snapshot = matrix.snapshot(matrix.policy_for(incident.severity.code, incident.services.all()),
                               incident.severity.code)
    Escalation.objects.create(incident=incident, severity=incident.severity.code, snapshot=snapshot, started_at=now)
    _schedule(incident, snapshot, 1, now)


def _schedule(incident, snapshot, generation, now):
    # Levels that stop on acknowledgement have nothing to do once someone acknowledged.
    acknowledged = incident.status != Status.TRIGGERED
    ScheduledLevel.objects.bulk_create(
        ScheduledLevel(incident=incident, generation=generation, level=level["level"], role_slug=level["role"],
                       role_name=level["role_name"], stop_on=level["stop_on"],
                       repeat_every_minutes=level.get("repeat_every_minutes"),
                       due_at=now + timedelta(minutes=level["delay_minutes"]))
        for level in snapshot["levels"] if not (acknowledged and level["stop_on"] == EscalationLevel.ACK))


def cancel(incident, reason, stop_on=None):
    pending = ScheduledLevel.objects.filter(incident=incident, status=PENDING)
    if stop_on:
        pending = pending.filter(stop_on=stop_on)
    return pending.update(status=CANCELLED, cancelled_reason=reason)


def acknowledged(incident):
    cancel(incident, "acknowledged", stop_on=EscalationLevel.ACK)


def resolved(incident, now=None):
    cancel(incident, incident.status)
    Escalation.objects.filter(incident=incident, stopped_at=None).update(stopped_at=now or timezone.now())


def restart(incident, now=None):
    """The severity changed: cancel what is pending and start the new severity's levels from now."""
    now = now or timezone.now()
    escalation = Escalation.objects.select_for_update().filter(incident=incident).first()
    if escalation is None:
        return start(incident, now)
    cancel(incident, "severity changed")
    escalation.generation += 1
    escalation.severity = incident.severity.code
    escalation.snapshot = matrix.snapshot(matrix.policy_for(incident.severity.code, incident.services.all()),
                                          incident.severity.code)
    escalation.started_at = now
    escalation.save(update_fields=["generation", "severity", "snapshot", "started_at"])
    if incident.is_open:
        _schedule(incident, escalation.snapshot, escalation.generation, now)


def fire_due(now=None, *, by="engine", cutoff=None, batch=BATCH):
    """Fire every pending level due at `now` (or at `cutoff`); returns the rows fired.
    Without `now` each row's fire time is the real time it fired (for lateness)."""
    clock = (lambda: now) if now else timezone.now
    cutoff = cutoff or clock()
    fired, failed = [], set()
    while True:
        with transaction.atomic():
            rows = list(ScheduledLevel.objects.select_for_update(skip_locked=True)
                        .filter(status=PENDING, due_at__lte=cutoff).exclude(pk__in=failed)
                        .order_by("due_at")[:batch])
            if not rows:
                return fired
            incidents = Incident.objects.select_related("severity").prefetch_related("services").in_bulk(
                {row.incident_id for row in rows})
            for row in rows:
                try:
                    with transaction.atomic():
                        if fire(row, incidents[row.incident_id], clock(), by=by):
                            fired.append(row)
                except Exception:  # one broken row must not stop the others; the audit retries it
                    log.exception("escalation level %s failed to fire", row.pk)
                    failed.add(row.pk)


def fire(row, incident, at, *, by="engine"):
    """Fire one claimed, locked row: page whoever holds the role now. Returns
    True when it paged, False when it cancelled or held the level back."""
    if not incident.is_open or (row.stop_on == EscalationLevel.ACK and incident.status != Status.TRIGGERED):
        row.status, row.cancelled_reason = CANCELLED, incident.status
        row.save(update_fields=["status", "cancelled_reason"])
        return False
    window = holding_window(incident, at)
    if window is not None:
        first_hold = row.held_by_id != window.pk
        row.due_at, row.held_by = window.effective_end, window
        row.save(update_fields=["due_at", "held_by"])
        if first_hold:
            add_event(incident, Kind.HELD_BACK, at=at,
                      message=f"Level {row.level} ({row.role_name}) held back by maintenance of {window.service} "
                              f"until {window.effective_end:%Y-%m-%d %H:%M UTC}: {window.reason}",
                      data={"level": row.level, "window": window.pk})
        return False
    # The conditional update is the claim: whoever changes the row from pending owns the page.
    if not ScheduledLevel.objects.filter(pk=row.pk, status=PENDING).update(status=FIRED, fired_at=at, fired_by=by):
        return False
    row.status, row.fired_at, row.fired_by = FIRED, at, by
    user = who_holds(row.role_slug, at)
    try:
        with transaction.atomic():
            page = Page.objects.create(step=row, incident=incident, user=user, role_name=row.role_name,
                                       level=row.level, created_at=at, link_expires_at=at + notify.ack_link_ttl())
    except IntegrityError:
        log.warning("level %s of incident %s was already paged", row.level, incident.pk)
        return False
    late = (at - row.due_at).total_seconds()
    data = {"level": row.level, "role": row.role_slug, "round": row.round, "page": page.pk, "by": by}
    if by == "audit":
        log.warning("audit fired level %s of %s %.0f s late", row.level, incident.reference, late)
        add_event(incident, Kind.ESCALATED, at=at, data=data | {"late_seconds": round(late)},
                  message=f"The escalation audit found level {row.level} ({row.role_name}) {late:.0f} s overdue "
                          "and fired it.")
    elif row.level > 1 or row.round:
        add_event(incident, Kind.ESCALATED, at=at, data=data,
                  message=f"Escalated to level {row.level}: {row.role_name}"
                          + (f" (repeat {row.round})" if row.round else "") + ".")
    if user is None:
        add_event(incident, Kind.PAGE_FAILED, at=at, data=data,
                  message=f"Nobody holds the role {row.role_name}: no one could be paged for level {row.level}.")
    else:
        add_event(incident, Kind.PAGED, at=at, data=data | {"user": user.get_username()},
                  message=f"Paged {user.get_username()} ({row.role_name}, level {row.level}).")
        notify.plan_deliveries(page, at)
    if row.repeat_every_minutes:
        ScheduledLevel.objects.get_or_create(
            incident=incident, generation=row.generation, level=row.level, round=row.round + 1,
            defaults={"role_slug": row.role_slug, "role_name": row.role_name, "stop_on": row.stop_on,
                      "repeat_every_minutes": row.repeat_every_minutes,
                      "due_at": row.due_at + timedelta(minutes=row.repeat_every_minutes)})
    return True


def audit(now=None):
    """Fire levels overdue by more than a minute (a stopped beat, a crashed
    worker) and report that it had to. Returns the rows it fired."""
    now = now or timezone.now()
    fired = fire_due(now, by="audit", cutoff=now - OVERDUE)
    if fired:
        log.warning("escalation audit fired %d overdue level(s)", len(fired))
    return fired


def board_status(incidents):
    """Who is paged, who is next and when, per incident, in three queries."""
    ids = [incident.pk for incident in incidents]
    status = {pk: {"paged": [], "next_role": None, "next_at": None, "level": None} for pk in ids}
    generations = dict(Escalation.objects.filter(incident_id__in=ids).values_list("incident_id", "generation"))
    pages = Page.objects.filter(incident_id__in=ids).order_by("created_at", "pk")
    for incident_id, user, role in pages.values_list("incident_id", "user__username", "role_name"):
        name = user or f"nobody ({role})"
        if name not in status[incident_id]["paged"]:
            status[incident_id]["paged"].append(name)
    rows = ScheduledLevel.objects.filter(incident_id__in=ids).exclude(status=CANCELLED).order_by("due_at", "level")
    for row in rows.values("incident_id", "generation", "level", "status", "role_name", "due_at"):
        entry = status[row["incident_id"]]
        if row["generation"] != generations.get(row["incident_id"]):
            continue
        if row["status"] == FIRED:
            entry["level"] = max(entry["level"] or 0, row["level"])
        elif entry["next_at"] is None:
            entry["next_role"], entry["next_at"] = row["role_name"], row["due_at"]
    return status
