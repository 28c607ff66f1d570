"""/api/v1/drills: the kept result of each drill run (runbooks.drills), as the
Drills report shows them: read-only, for whoever may see that report."""
from datetime import date, datetime

from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from ops_console.runbooks.models import DrillResult
from ops_console.ui.forms import period_lookups

from .auth import Needs
from .paging import DEFAULT_LIMIT, page_of

router = Router(tags=["drills"])
VIEW = "runbooks.view_drillresult"  # the Drills report's (history/views/drills.py)


class DrillOut(Schema):
    id: int
    run: int
    run_status: str
    run_url: str
    runbook: str
    runbook_title: str
    started_by: str | None
    started_at: datetime = Field(description="when the run started")
    targets: dict = Field(description="the version's targets in seconds, as the run measured them")
    events: dict = Field(description='{event: {"at", "by": "step" | "click", "step", "user"}}')
    fault_injected_at: datetime | None = Field(description="T0")
    fault_removed_at: datetime | None = Field(description="T1")
    detected_at: datetime | None
    recovered_at: datetime | None
    detection_seconds: float | None
    recovery_seconds: float | None
    detection_met: bool | None = Field(description="null: not judged yet, or no such target")
    recovery_met: bool | None
    passed: bool | None = Field(description="every target met; null until the run ends")
    over_budget: list[str] = Field(description="titles of the phases over their budget")
    finished_at: datetime | None


class DrillPage(Schema):
    items: list[DrillOut]
    next: int | None


class DrillFilters(Schema):
    runbook: str = Field("", description="a runbook's slug")
    passed: bool | None = Field(None, description="only those that passed (true) or failed (false)")
    since: date | None = Field(None, description="runs started on or after this day (UTC)")
    until: date | None = Field(None, description="runs started on or before this day (UTC)")
    cursor: int | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=200)


def drill_out(r):
    return {"id": r.pk, "run": r.run_id, "run_status": r.run.status, "run_url": r.run.get_absolute_url(),
            "runbook": r.runbook.slug, "runbook_title": r.runbook.title,
            "started_by": r.run.started_by.get_username() if r.run.started_by_id else None,
            "started_at": r.run.created_at, "targets": r.targets, "events": r.events,
            "fault_injected_at": r.fault_injected_at, "fault_removed_at": r.fault_removed_at,
            "detected_at": r.detected_at, "recovered_at": r.recovered_at, "detection_seconds": r.detection_seconds,
            "recovery_seconds": r.recovery_seconds, "detection_met": r.detection_met, "recovery_met": r.recovery_met,
            "passed": r.passed, "over_budget": list(r.over_budget or []), "finished_at": r.finished_at}


def _results():
    return DrillResult.objects.select_related("runbook", "run", "run__started_by")


@router.get("/drills", response=DrillPage, summary="List drill results, newest first", auth=Needs(VIEW))
def list_drills(request, filters: Query[DrillFilters]):
    found = _results()
    if filters.runbook.strip():
        found = found.filter(runbook__slug=filters.runbook.strip())
    if filters.passed is not None:
        found = found.filter(passed=filters.passed)
    found = found.filter(**period_lookups("run__created_at", filters.since, filters.until))
    items, next_cursor = page_of(found, filters.cursor, filters.limit)
    return {"items": [drill_out(r) for r in items], "next": next_cursor}


@router.get("/drills/{drill_id}", response=DrillOut, summary="Read a drill result", auth=Needs(VIEW))
def read_drill(request, drill_id: int):
    return drill_out(get_object_or_404(_results(), pk=drill_id))
