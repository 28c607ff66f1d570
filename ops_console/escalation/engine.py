"""The escalation engine. The schedule is rows in the database (one per
incident, level and repeat, with a due time); `fire_due` claims due rows with
SELECT ... FOR UPDATE SKIP LOCKED plus a conditional UPDATE, so several beat or
worker processes never fire a level twice (and Page.step is unique besides).
It works in batches with a fixed number of queries per batch, so a paging
storm of thousands of incidents stays on time. Every function takes `now` so
tests control the clock."""
import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ops_console.audit import log as audit_log
from ops_console.database import copy_create
from ops_console.incidents.models import Incident, Status, TimelineEvent
from ops_console.incidents.timeline import Kind, add_event
from ops_console.monitoring.models import Service

from . import failover, matrix, notify
from .maintenance import active_windows, holding_window
from .models import Delivery, Escalation, EscalationLevel, Page, ScheduledLevel
from .oncall import Schedule, rotations_with_people

log = logging.getLogger(__name__)
PENDING, FIRED, CANCELLED = ScheduledLevel.PENDING, ScheduledLevel.FIRED, ScheduledLevel.CANCELLED
OVERDUE = timedelta(minutes=1)
BATCH = 100


def start(incident, now=None):
    """Freeze the policy in force onto the incident and schedule its levels. Idempotent."""
    start_many([incident], now)


def start_many(incidents, now=None, *, opened_with=None):
    """start() for several incidents (a delivery opening many of them) in a
    fixed number of queries: each severity's policies are looked up once.
    `opened_with`: {incident pk: [services]} from the action that has just
    created these incidents (so none has an escalation yet): saves reading both."""
    now = now or timezone.now()
    if opened_with is None or any(len(services) > 1 for services in opened_with.values()):
        # Several services: the first with a policy wins, in the order the database gives them.
        started = set(Escalation.objects.filter(incident__in=incidents).values_list("incident_id", flat=True))
        incidents = [incident for incident in incidents if incident.pk not in started]
        if not incidents:
            return
        services = _services_of(incidents)
    else:
        services = opened_with
    policies, escalations = {}, []
    for incident in incidents:
        code = incident.severity.code
        if code not in policies:
            policies[code] = matrix.policies_by_service(code)
        snapshot = matrix.snapshot(matrix.policy_for(code, services[incident.pk], policies[code]), code)
        escalations.append(Escalation(incident=incident, severity=code, snapshot=snapshot, started_at=now))
    copy_create(escalations)
    copy_create(level for incident, escalation in zip(incidents, escalations)
                for level in _levels(incident, escalation.snapshot, 1, now))


def _services_of(incidents):
    """{incident pk: [its services in their default order]} in at most two queries."""
    pairs = list(Incident.services.through.objects.filter(incident__in=incidents).values_list(
        "incident_id", "service_id"))
    ordered = list(Service.objects.filter(pk__in={service for _, service in pairs})) if pairs else []
    found = {incident.pk: [] for incident in incidents}
    for incident_id, service_ids in _group(pairs).items():
        found[incident_id] = [service for service in ordered if service.pk in service_ids]
    return found


def _group(pairs):
    grouped = {}
    for key, value in pairs:
        grouped.setdefault(key, set()).add(value)
    return grouped


def _schedule(incident, snapshot, generation, now):
    ScheduledLevel.objects.bulk_create(_levels(incident, snapshot, generation, now))


def _levels(incident, snapshot, generation, now):
    # Levels that stop on acknowledgement have nothing to do once someone acknowledged.
    acknowledged = incident.status != Status.TRIGGERED
    return [ScheduledLevel(incident=incident, generation=generation, level=level["level"], role_slug=level["role"],
                           role_name=level["role_name"], stop_on=level["stop_on"],
                           repeat_every_minutes=level.get("repeat_every_minutes"),
                           due_at=now + timedelta(minutes=level["delay_minutes"]))
            for level in snapshot["levels"] if not (acknowledged and level["stop_on"] == EscalationLevel.ACK)]


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


def restart(incident, now=None, *, reason="severity changed", refreeze=True):
    """Cancel what is pending and start the levels again from now, as a new
    generation. `refreeze`: the severity changed, so freeze the policy now in
    force for the new severity; otherwise (a reopened incident) keep the frozen one."""
    now = now or timezone.now()
    escalation = Escalation.objects.select_for_update().filter(incident=incident).first()
    if escalation is None:
        return start(incident, now)
    cancel(incident, reason)
    escalation.generation += 1
    fields = ["generation", "started_at"]
    if refreeze or escalation.severity != incident.severity.code:
        escalation.severity = incident.severity.code
        escalation.snapshot = matrix.snapshot(matrix.policy_for(incident.severity.code, incident.services.all()),
                                              incident.severity.code)
        fields += ["severity", "snapshot"]
    escalation.started_at = now
    if incident.is_open and escalation.stopped_at is not None:  # resolved, then reopened: running again
        escalation.stopped_at = None
        fields.append("stopped_at")
    escalation.save(update_fields=fields)
    if incident.is_open:
        _schedule(incident, escalation.snapshot, escalation.generation, now)


def reopened(incident, now=None):
    """A resolved incident came back: escalate again from the first level of
    the policy frozen onto it (its current severity's)."""
    restart(incident, now, reason="reopened", refreeze=False)


def fire_due(now=None, *, by="engine", cutoff=None, batch=BATCH):
    """Fire every pending level due at `now` (or at `cutoff`); returns the rows fired.
    Without `now` rows fire at the real time (what the lateness benchmark measures)."""
    clock = (lambda: now) if now else timezone.now
    cutoff = cutoff or clock()
    fired, failed = [], set()
    while True:
        # The chain's lock first (audit.atomic), although firing writes no audit entry:
        # a batch inserts pages and timeline events, which wait for any incident a
        # do_* action has locked, and that action (holding the chain) then cancels the
        # very levels this batch holds: a deadlock. Taking the chain first, as every
        # action does, puts the engine in the same order; a batch is a few queries, so
        # holding the chain that long costs the writers little.
        with audit_log.atomic():
            # SKIP LOCKED: a second engine takes the next rows instead of waiting for these.
            rows = list(ScheduledLevel.objects.select_for_update(skip_locked=True)
                        .filter(status=PENDING, due_at__lte=cutoff).exclude(pk__in=failed)
                        .order_by("due_at")[:batch])
            if not rows:
                return fired
            try:
                with transaction.atomic():
                    fired += fire_batch(rows, clock(), by=by)
            except Exception:  # one broken row must not hold back the others: fire them one by one
                log.exception("a batch of %d escalation levels failed; firing them one at a time", len(rows))
                for pk in [row.pk for row in rows]:
                    try:
                        with transaction.atomic():
                            fired += fire_batch([ScheduledLevel.objects.get(pk=pk)], clock(), by=by)
                    except Exception:
                        log.exception("escalation level %s failed to fire; the audit will retry it", pk)
                        failed.add(pk)


class ClaimLost(Exception):
    """Another engine fired one of these rows first."""


def fire_batch(rows, at, *, by="engine"):
    """Fire locked, pending rows in a fixed number of queries: cancel those the
    incident no longer needs, hold back those in maintenance, page whoever holds
    each role at `at`. Returns the rows that paged."""
    incidents = Incident.objects.select_related("severity").prefetch_related("services").in_bulk(
        {row.incident_id for row in rows})
    windows = active_windows({s.pk for i in incidents.values() for s in i.services.all()}, at)
    cancelled, due = {}, []
    for row in rows:
        incident = incidents[row.incident_id]
        if not incident.is_open or (row.stop_on == EscalationLevel.ACK and incident.status != Status.TRIGGERED):
            cancelled.setdefault(incident.status, []).append(row.pk)
        elif (window := holding_window(incident, at, windows)) is not None:
            hold(row, incident, window, at)
        else:
            due.append(row)
    for reason, ids in cancelled.items():
        ScheduledLevel.objects.filter(pk__in=ids, status=PENDING).update(status=CANCELLED, cancelled_reason=reason)
    if not due:
        return []
    # The conditional update is the claim: whoever moves a row from pending owns its page.
    claimed = ScheduledLevel.objects.filter(pk__in=[row.pk for row in due], status=PENDING).update(
        status=FIRED, fired_at=at, fired_by=by)
    if claimed != len(due):
        if len(due) == 1:
            return []
        raise ClaimLost(f"{len(due) - claimed} of {len(due)} levels were fired by another engine")
    schedules = {s.rotation.role.slug: s for s in map(Schedule, rotations_with_people(at))}
    pages = Page.objects.bulk_create(
        Page(step=row, incident=incidents[row.incident_id], role_name=row.role_name, level=row.level,
             user=schedules[row.role_slug].holder(at) if row.role_slug in schedules else None,
             created_at=at, link_expires_at=at + notify.ack_link_ttl())
        for row in due)
    # One INSERT for the whole batch's timeline (add_event writes one row per call).
    TimelineEvent.objects.bulk_create([event for row, page in zip(due, pages)
                                       for event in page_events(row, page, incidents[row.incident_id], at, by)]
                                      + failover.nobody_to_page(list(zip(due, pages)), at))
    notify.plan_deliveries([page for page in pages if page.user_id], at)
    ScheduledLevel.objects.bulk_create(
        [ScheduledLevel(incident_id=row.incident_id, generation=row.generation, level=row.level, round=row.round + 1,
                        role_slug=row.role_slug, role_name=row.role_name, stop_on=row.stop_on,
                        repeat_every_minutes=row.repeat_every_minutes,
                        due_at=row.due_at + timedelta(minutes=row.repeat_every_minutes))
         for row in due if row.repeat_every_minutes], ignore_conflicts=True)
    for row in due:
        row.status, row.fired_at, row.fired_by = FIRED, at, by
    if by == "audit":
        for row in due:
            log.warning("audit fired level %s of %s %.0f s late", row.level, incidents[row.incident_id].reference,
                        (at - row.due_at).total_seconds())
    return due


def hold(row, incident, window, at):
    """Maintenance: the level waits until the window ends (recorded once per window)."""
    first_hold = row.held_by_id != window.pk
    row.due_at, row.held_by = window.effective_end, window
    row.save(update_fields=["due_at", "held_by"])
    if first_hold:
        add_event(incident, Kind.HELD_BACK, at=at,
                  message=f"Level {row.level} ({row.role_name}) held back by maintenance of {window.service} "
                          f"until {window.effective_end:%Y-%m-%d %H:%M UTC}: {window.reason}",
                  data={"level": row.level, "window": window.pk})


def page_events(row, page, incident, at, by):
    def event(kind, message, **extra):
        return TimelineEvent(incident=incident, kind=kind, created_at=at, message=message, data=data | extra)

    why = fired_because(row, incident)
    data = {"level": row.level, "role": row.role_slug, "round": row.round, "page": page.pk, "by": by,
            "reason": "unacknowledged" if row.stop_on == EscalationLevel.ACK else "unresolved"}
    if by == "audit":
        late = (at - row.due_at).total_seconds()
        yield event(Kind.ESCALATED, f"The escalation audit found level {row.level} ({row.role_name}) {late:.0f} s "
                                    f"overdue and fired it: {why}.", late_seconds=round(late))
    elif row.round:
        yield event(Kind.ESCALATED, f"Paged level {row.level} again ({row.role_name}, repeat {row.round}): {why}.")
    elif row.level > 1:
        yield event(Kind.ESCALATED, f"Escalated to level {row.level}: {row.role_name}, because {why}.")
    if page.user is not None:  # nobody in the role: failover.nobody_to_page says so and moves on
        name = page.user.get_username()
        yield event(Kind.PAGED, f"Paged {name} ({row.role_name}, level {row.level}).", user=name)


def fired_because(row, incident):
    """Why a level fires, in words: the condition it waits for has not happened."""
    if row.stop_on == EscalationLevel.ACK:
        return "nobody has acknowledged the incident"
    if incident.status == Status.TRIGGERED:
        return "the incident is still unresolved (not acknowledged)"
    return f"the incident is still unresolved ({incident.get_status_display().lower()})"


def audit(now=None):
    """Fire levels overdue by more than a minute (a stopped beat, a crashed
    worker) and report that it had to. Returns the rows it fired."""
    now = now or timezone.now()
    fired = fire_due(now, by="audit", cutoff=now - OVERDUE)
    if fired:
        log.warning("escalation audit fired %d overdue level(s)", len(fired))
    return fired


def board_status(incidents, now=None):
    """Who is paged (and whose every channel failed), who is next, as a person
    and a role, and when, per incident, in a fixed number of queries."""
    ids = [incident.pk for incident in incidents]
    status = {pk: {"paged": [], "failed": [], "nobody": [], "channels": {}, "people": [], "next_role": None,
                   "next_who": None, "next_at": None, "next_if": "", "level": None, "_next_slug": None} for pk in ids}
    generations = dict(Escalation.objects.filter(incident_id__in=ids).values_list("incident_id", "generation"))
    pages = Page.objects.filter(incident_id__in=ids).order_by("created_at", "pk")
    for incident_id, user, role, failed_at in pages.values_list("incident_id", "user__username", "role_name",
                                                                 "failed_at"):
        name = user or f"nobody ({role})"
        if name not in status[incident_id]["paged"]:
            status[incident_id]["paged"].append(name)
        if failed_at and name not in status[incident_id]["failed"]:
            status[incident_id]["failed"].append(name)
            if not user:  # failed because nobody held the role, not because of a channel
                status[incident_id]["nobody"].append(name)
    # Each person's channels on their latest page: what the board shows beside the name.
    latest = Delivery.objects.filter(page__incident_id__in=ids).order_by("page__created_at", "page_id", "id")
    for incident_id, user, page_id, channel, state, attempts, next_at in latest.values_list(
            "page__incident_id", "page__user__username", "page_id", "channel", "status", "attempts",
            "next_attempt_at"):
        if not user:
            continue
        channels = status[incident_id]["channels"]
        if channels.get(user, (None,))[0] != page_id:
            channels[user] = (page_id, [])
        channels[user][1].append({"channel": channel, "status": state, "attempts": attempts, "next_at": next_at})
    for entry in status.values():
        entry["people"] = [{"name": name, "failed": name in entry["failed"], "nobody": name in entry["nobody"],
                            "channels": entry["channels"].get(name, (None, []))[1]} for name in entry["paged"]]
        del entry["channels"]
    rows = ScheduledLevel.objects.filter(incident_id__in=ids).exclude(status=CANCELLED).order_by("due_at", "level")
    for row in rows.values("incident_id", "generation", "level", "status", "role_name", "role_slug", "due_at",
                           "stop_on"):
        entry = status[row["incident_id"]]
        if row["generation"] != generations.get(row["incident_id"]):
            continue
        if row["status"] == FIRED:
            entry["level"] = max(entry["level"] or 0, row["level"])
        elif entry["next_at"] is None:
            entry["next_role"], entry["next_at"] = row["role_name"], row["due_at"]
            entry["_next_slug"] = row["role_slug"]
            entry["next_if"] = "if not acknowledged" if row["stop_on"] == EscalationLevel.ACK else "if unresolved"
    if any(entry["_next_slug"] for entry in status.values()):
        # Who holds each role when it is due: the person "Next escalation" will page.
        schedules = {s.rotation.role.slug: s for s in map(Schedule, rotations_with_people(now or timezone.now()))}
        for entry in status.values():
            if entry["_next_slug"] in schedules:
                holder = schedules[entry["_next_slug"]].holder(entry["next_at"])
                entry["next_who"] = holder.get_username() if holder else None
    for entry in status.values():
        del entry["_next_slug"]
    return status
