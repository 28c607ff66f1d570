"""When a paged person cannot be reached (every contact method failed, or
they have none), or nobody holds the paged role, the page is marked failed,
once, and the escalation's next level is due now instead of after its delay;
the engine fires it as it fires any level, so it still pages once."""
from django.db import transaction
from kombu.exceptions import OperationalError

from ops_console.incidents.models import TimelineEvent
from ops_console.incidents.timeline import Kind, add_event

from .models import Page, ScheduledLevel


def page_failed(page, now, *, why):
    """Mark `page` failed and bring the next level forward. Runs inside the
    caller's transaction, with the page's row locked (or just created)."""
    if not Page.objects.filter(pk=page.pk, failed_at=None).update(failed_at=now):
        return None
    page.failed_at = now
    following = next_level(page)
    if following is not None and following.due_at > now:
        ScheduledLevel.objects.filter(pk=following.pk, status=ScheduledLevel.PENDING).update(due_at=now)
        transaction.on_commit(_ring_engine)
    add_event(page.incident, Kind.PAGE_FAILED, at=now, message=f"Page to {page.user.get_username()} failed: "
                                                                 f"{why}{_then(page, following)}",
              data={"page": page.pk, "all_failed": True, "next_level": following.level if following else None})
    return following


def nobody_to_page(paged, at):
    """Level pages that found nobody holding the role, just made by the engine
    (`paged`: [(row, page)]): failed as they are made, so each brings its next
    level forward as page_failed does, in a fixed number of queries for the
    whole batch. Returns their timeline events, for the engine's one INSERT."""
    paged = [(row, page) for row, page in paged if page.user_id is None]
    if not paged:
        return []
    Page.objects.filter(pk__in=[page.pk for _, page in paged], failed_at=None).update(failed_at=at)
    later = {}  # (incident, generation) -> its first-round levels, by level
    for level in ScheduledLevel.objects.filter(incident_id__in={row.incident_id for row, _ in paged}, round=0,
                                               generation__in={row.generation for row, _ in paged}):
        later.setdefault((level.incident_id, level.generation), []).append(level)
    events, forward = [], []
    for row, page in paged:
        page.failed_at = at
        following = min((level for level in later.get((row.incident_id, row.generation), ())
                         if level.level > row.level), key=lambda level: level.level, default=None)
        if following is not None and following.status != ScheduledLevel.PENDING:
            following = None  # only the very next level, as next_level() says
        if following is not None and following.due_at > at:
            forward.append(following.pk)
        events.append(TimelineEvent(
            incident_id=row.incident_id, kind=Kind.PAGE_FAILED, created_at=at,
            message=f"Nobody holds the role {row.role_name}: no one could be paged for level {row.level}"
                    f"{_then(page, following)}",
            data={"page": page.pk, "level": row.level, "role": row.role_slug, "round": row.round, "nobody": True,
                  "all_failed": True, "next_level": following.level if following else None}))
    if forward:
        ScheduledLevel.objects.filter(pk__in=forward, status=ScheduledLevel.PENDING).update(due_at=at)
        transaction.on_commit(_ring_engine)
    return events


def _then(page, following):
    if page.reason != Page.LEVEL:
        return "."
    if following is None:
        return ": no pending level to bring forward."
    return (f": escalating to level {following.level} ({following.role_name}) now, "
            f"without waiting for {following.due_at:%H:%M:%S UTC}.")


def next_level(page):
    """The level right after the page's, in the same run of the escalation, if
    it is still pending. Only that one: when a repeat of level 1 fails after
    level 2 has fired, level 3 keeps its own time."""
    if page.reason != Page.LEVEL or page.step_id is None:
        return None
    generation = ScheduledLevel.objects.filter(pk=page.step_id).values_list("generation", flat=True).first()
    following = (ScheduledLevel.objects.filter(incident_id=page.incident_id, generation=generation,
                                               level__gt=page.level, round=0)
                 .order_by("level").first())
    return following if following is not None and following.status == ScheduledLevel.PENDING else None


def _ring_engine():
    from .tasks import fire_due_escalations  # tasks imports the modules that import this one

    try:
        fire_due_escalations.delay()
    except OperationalError:
        pass  # the broker is away: the next tick (beat's, or a worker standing in for it) fires the level
