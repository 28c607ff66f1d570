"""Domain metrics read from the database at scrape time: step runs by kind and
outcome, a histogram of how long finished steps took, and steps the
reconciler should have dealt with by now."""
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


class StepRunCollector:
    def collect(self):
        from datetime import timedelta

        from .models import StepRun

        counts = CounterMetricFamily("ops_console_runbook_step_runs", "Step runs by kind and status",
                                     labels=["kind", "status"])
        for row in StepRun.objects.values("kind", "status").annotate(n=Count("id")).order_by():
            counts.add_metric([row["kind"], row["status"]], row["n"])
        yield counts
        timed = StepRun.objects.filter(started_at__isnull=False, finished_at__isnull=False).annotate(
            took=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()))
        histogram = HistogramMetricFamily("ops_console_runbook_step_duration_seconds",
                                          "How long finished steps ran, by kind", labels=["kind"])
        aggregates = {f"le{i}": Count("id", filter=Q(took__lte=timedelta(seconds=b))) for i, b in enumerate(BUCKETS)}
        for row in timed.values("kind").annotate(n=Count("id"), total=Sum("took"), **aggregates).order_by():
            buckets = [(str(b), row[f"le{i}"]) for i, b in enumerate(BUCKETS)] + [("+Inf", row["n"])]
            total = row["total"].total_seconds() if row["total"] else 0.0
            histogram.add_metric([row["kind"]], buckets, total)
        yield histogram
        yield overdue_steps()

    def describe(self):
        return []


def overdue_steps():
    """Queued steps no worker took within the requeue time, and running steps
    (of the kinds that heartbeat) silent past the lost time: the reconciler
    re-dispatches or fails both within seconds, so a count that stays above
    zero says the reconciler is not running."""
    from .engine import HEARTBEATING_KINDS, LOST_AFTER, REQUEUE_AFTER
    from .models import StepRun

    now = timezone.now()
    counts = StepRun.objects.aggregate(
        queued=Count("id", filter=Q(status=StepRun.QUEUED, queued_at__lt=now - REQUEUE_AFTER)),
        running=Count("id", filter=Q(status=StepRun.RUNNING, kind__in=HEARTBEATING_KINDS,
                                     heartbeat_at__lt=now - LOST_AFTER)))
    gauge = GaugeMetricFamily("ops_console_steps_overdue", "Steps queued past the requeue time, or running "
                              "without a heartbeat past the lost time", labels=["status"])
    for status, n in counts.items():
        gauge.add_metric([status], n)
    return gauge


COLLECTOR = StepRunCollector()
# Registered once, when the app's ready() first imports this module.
REGISTRY.register(COLLECTOR)
