"""/api/v1/schedules: recurring runs as the schedules page shows them (everyone
who reads runbooks), turned on and off by those who may change them (admins),
through runbooks.schedules.do_set_enabled, so with the page's audit entries."""
from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from ops_console.runbooks import schedules
from ops_console.runbooks.models import Schedule

from .auth import Needs
from .paging import DEFAULT_LIMIT, page_of

router = Router(tags=["schedules"])
# The pages' permissions (runbooks/schedule_views.py).
VIEW, CHANGE = "runbooks.view_runbook", "runbooks.change_schedule"


class ScheduleOut(Schema):
    id: int
    name: str
    runbook: str
    cron: str
    cron_in_words: str
    time_zone: str
    parameters: dict = Field(description="the values given; a parameter left out takes the runbook's default "
                                         "(a schedule never stores a secret)")
    enabled: bool
    on_missed: str = Field(description="run_once_late or skip")
    next_due_at: datetime | None = Field(description="UTC; null while disabled")
    last_fired_at: datetime | None
    last_run: int | None
    last_error: str
    owner: str | None = Field(description="runs start in this person's name")
    created_at: datetime
    updated_at: datetime


class SchedulePage(Schema):
    items: list[ScheduleOut]
    next: int | None


class ScheduleFilters(Schema):
    runbook: str = Field("", description="a runbook's slug")
    enabled: bool | None = Field(None, description="only those turned on (true) or off (false)")
    cursor: int | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=200)


def schedule_out(s):
    return {"id": s.pk, "name": s.name, "runbook": s.runbook.slug, "cron": s.cron,
            "cron_in_words": schedules.explain(s.cron), "time_zone": s.time_zone, "parameters": s.parameters,
            "enabled": s.enabled, "on_missed": s.on_missed, "next_due_at": s.next_due_at,
            "last_fired_at": s.last_fired_at, "last_run": s.last_run_id, "last_error": s.last_error,
            "owner": s.created_by.get_username() if s.created_by_id else None, "created_at": s.created_at,
            "updated_at": s.updated_at}


def _schedules():
    return Schedule.objects.select_related("runbook", "created_by")


@router.get("/schedules", response=SchedulePage, summary="List schedules, newest first", auth=Needs(VIEW))
def list_schedules(request, filters: Query[ScheduleFilters]):
    found = _schedules()
    if filters.runbook.strip():
        found = found.filter(runbook__slug=filters.runbook.strip())
    if filters.enabled is not None:
        found = found.filter(enabled=filters.enabled)
    items, next_cursor = page_of(found, filters.cursor, filters.limit)
    return {"items": [schedule_out(s) for s in items], "next": next_cursor}


@router.get("/schedules/{schedule_id}", response=ScheduleOut, summary="Read a schedule", auth=Needs(VIEW))
def read_schedule(request, schedule_id: int):
    return schedule_out(get_object_or_404(_schedules(), pk=schedule_id))


def _switch(enabled):
    verb = "enable" if enabled else "disable"

    def endpoint(request, schedule_id: int):
        schedule = get_object_or_404(Schedule, pk=schedule_id)
        # Already in that state: nothing changes and nothing is recorded, as on the page.
        schedules.do_set_enabled(schedule.pk, enabled, acting_user=request.user)
        return schedule_out(get_object_or_404(_schedules(), pk=schedule_id))

    endpoint.__name__ = f"{verb}_schedule"
    router.post(f"/schedules/{{schedule_id}}/{verb}", response=ScheduleOut, operation_id=f"{verb}_schedule",
                summary="Turn a schedule on (due from now: nothing missed while off runs)" if enabled
                else "Turn a schedule off", auth=Needs(CHANGE, write=True))(endpoint)


_switch(True)
_switch(False)
