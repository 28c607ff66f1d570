"""When a paged person cannot be reached (every contact method failed, or
they have none), the page is marked failed, once, and the escalation's next
level is due now instead of after its delay; the engine fires it as it fires
any level, so it still pages once."""
from django.db import transaction

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
    if page.reason != Page.LEVEL:
        then = "."
    elif following is None:
        then = ": no pending level to bring forward."
    else:
        then = (f": escalating to level {following.level} ({following.role_name}) now, "
                f"without waiting for {following.due_at:%H:%M:%S UTC}.")
    add_event(page.incident, Kind.PAGE_FAILED, at=now, message=f"Page to {page.user.get_username()} failed: "
                                                                 f"{why}{then}",
              data={"page": page.pk, "all_failed": True, "next_level": following.level if following else None})
    return following


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

    fire_due_escalations.delay()
