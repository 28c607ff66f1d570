"""Reports over a period: MTTA and MTTR per severity per month against each
severity's targets, pages per person, runbook usage and step failure rates.

Definitions (also shown on the page):
- time to acknowledge = acknowledged_at - detected_at; MTTA is its mean over the
  incidents that were acknowledged. time to resolve = resolved_at - detected_at;
  MTTR is its mean over the resolved incidents. An incident belongs to the month
  (UTC) it was detected in.
- A target is met when the time is within it, missed when it is longer, or when
  the incident is still waiting beyond the target; pending while it still may
  be met. An incident resolved without an acknowledgement is judged on its
  resolution time for both targets. A severity without a target is not judged.
"""
import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from ops_console.incidents.models import REFERENCE_PREFIX

MET, MISSED, PENDING = "met", "missed", "pending"


def judge(start, end, target, now):
    """met / missed / pending for one time against one target, None without a target."""
    if target is None:
        return None
    if end is not None:
        return MET if end - start <= target else MISSED
    return MISSED if now - start > target else PENDING


@dataclass
class Miss:
    reference: str
    title: str
    target: str          # "acknowledge" or "resolve"
    seconds: float | None  # the time it took (None: still waiting)
    target_seconds: float


@dataclass
class SeverityMonth:
    month: dt.date
    severity: str
    rank: int
    ack_target: dt.timedelta | None
    resolution_target: dt.timedelta | None
    incidents: int = 0
    ack_times: list = field(default_factory=list)
    resolve_times: list = field(default_factory=list)
    ack: dict = field(default_factory=lambda: {MET: 0, MISSED: 0, PENDING: 0})
    resolve: dict = field(default_factory=lambda: {MET: 0, MISSED: 0, PENDING: 0})
    misses: list = field(default_factory=list)

    @property
    def mtta(self):
        return sum(self.ack_times) / len(self.ack_times) if self.ack_times else None

    @property
    def mttr(self):
        return sum(self.resolve_times) / len(self.resolve_times) if self.resolve_times else None

    @property
    def mtta_met(self):
        return _within(self.mtta, self.ack_target)

    @property
    def mttr_met(self):
        return _within(self.mttr, self.resolution_target)


def _within(mean, target):
    if mean is None or target is None:
        return None
    return mean <= target.total_seconds()


INCIDENT_VALUES = ("pk", "title", "severity__code", "severity__rank", "severity__ack_target",
                   "severity__resolution_target", "detected_at", "acknowledged_at", "resolved_at")


def response_times(incidents, now=None):
    """[SeverityMonth] ordered by month, then severity, for an Incident queryset."""
    now = now or timezone.now()
    groups = {}
    for row in incidents.order_by("detected_at").values(*INCIDENT_VALUES).iterator(chunk_size=5000):
        detected = row["detected_at"].astimezone(dt.timezone.utc)
        key = (detected.date().replace(day=1), row["severity__rank"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = SeverityMonth(key[0], row["severity__code"], row["severity__rank"],
                                                row["severity__ack_target"], row["severity__resolution_target"])
        group.incidents += 1
        acked, resolved = row["acknowledged_at"], row["resolved_at"]
        if acked:
            group.ack_times.append((acked - detected).total_seconds())
        if resolved:
            group.resolve_times.append((resolved - detected).total_seconds())
        for name, end, target, tally in (("acknowledge", acked or resolved, group.ack_target, group.ack),
                                         ("resolve", resolved, group.resolution_target, group.resolve)):
            verdict = judge(detected, end, target, now)
            if verdict is None:
                continue
            tally[verdict] += 1
            if verdict == MISSED:
                group.misses.append(Miss(f"{REFERENCE_PREFIX}{row['pk']}", row["title"], name,
                                         (end - detected).total_seconds() if end else None,
                                         target.total_seconds()))
    return [groups[key] for key in sorted(groups)]


def pages_per_person(pages):
    """[{user, pages, acknowledged}] most paged first, for a Page queryset."""
    rows = (pages.values("user__username")
            .annotate(pages=Count("id"), acknowledged=Count("id", filter=Q(acknowledged_at__isnull=False)))
            .order_by("-pages", "user__username"))
    return [{"user": r["user__username"] or "(nobody on call)", "pages": r["pages"],
             "acknowledged": r["acknowledged"]} for r in rows]


def runbook_usage(runs):
    """[{slug, title, runs, succeeded, failed, cancelled}] most used first, for a Run queryset."""
    return list(runs.values("runbook__slug", "runbook__title")
                .annotate(runs=Count("id"), succeeded=Count("id", filter=Q(status="succeeded")),
                          failed=Count("id", filter=Q(status="failed")),
                          cancelled=Count("id", filter=Q(status="cancelled")))
                .order_by("-runs", "runbook__slug"))


ENDED_ATTEMPTS = ("succeeded", "failed", "lost")
FAILED_ATTEMPTS = ("failed", "lost")


def step_failure_rates(steps, limit=50):
    """[{runbook, index, title, finished, failed, rate}] for a StepRun queryset,
    counted in attempts: every kept attempt that ended (succeeded, failed, or
    lost with its worker; a cancelled one is neither) counts, so a step that
    failed twice before it succeeded is 2 failed of 3. A step without kept
    attempts (an approval, a checklist item) counts once by its status.
    rate = failed / finished, highest first; steps that never finished are left out."""
    key = ("run__runbook__slug", "index", "title")
    tried = (steps.filter(attempt_records__status__in=ENDED_ATTEMPTS).values(*key)
             .annotate(finished=Count("attempt_records"),
                       failed=Count("attempt_records", filter=Q(attempt_records__status__in=FAILED_ATTEMPTS))))
    decided = (steps.filter(status__in=("succeeded", "failed"), attempt_records__isnull=True).values(*key)
               .annotate(finished=Count("id"), failed=Count("id", filter=Q(status="failed"))))
    totals = {}
    for r in [*tried, *decided]:
        total = totals.setdefault(tuple(r[k] for k in key), [0, 0])
        total[0] += r["finished"]
        total[1] += r["failed"]
    result = [{"runbook": slug, "index": index, "title": title, "finished": finished, "failed": failed,
               "rate": failed / finished} for (slug, index, title), (finished, failed) in totals.items()]
    result.sort(key=lambda r: (-r["rate"], -r["finished"], r["runbook"], r["index"]))
    return result[:limit]


def default_period(today=None):
    """The last six calendar months including this one."""
    today = today or timezone.now().date()
    month = today.replace(day=1)
    for _ in range(5):
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return month, today
