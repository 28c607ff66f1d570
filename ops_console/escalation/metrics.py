"""Escalation numbers for /metrics, read from the database at scrape time so
every process reports the same."""
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


# A level this far past its due time and still pending: nothing is firing levels (no beat and
# no worker standing in for it, or a database problem). Beat fires every 2 s.
OVERDUE_AFTER = timedelta(seconds=30)


class EscalationCollector:
    def collect(self):
        from .models import Delivery, ScheduledLevel

        deliveries = CounterMetricFamily("ops_console_page_deliveries", "Page deliveries by channel and outcome",
                                         labels=["channel", "status"])
        for row in Delivery.objects.values("channel", "status").annotate(n=Count("pk")).order_by():
            deliveries.add_metric([row["channel"], row["status"]], row["n"])
        yield deliveries
        levels = dict(ScheduledLevel.objects.values_list("status").annotate(n=Count("pk")).order_by())
        fired = CounterMetricFamily("ops_console_escalations_fired", "Escalation levels fired", labels=["by"])
        for by, n in ScheduledLevel.objects.filter(status="fired").values_list("fired_by").annotate(
                n=Count("pk")).order_by():
            fired.add_metric([by], n)
        yield fired
        yield GaugeMetricFamily("ops_console_escalations_pending", "Escalation levels waiting for their due time",
                                value=levels.get("pending", 0))
        overdue = ScheduledLevel.objects.filter(status="pending", due_at__lt=timezone.now() - OVERDUE_AFTER)
        yield GaugeMetricFamily("ops_console_escalation_levels_overdue",
                                f"Escalation levels more than {OVERDUE_AFTER.seconds} s past their due time and "
                                "not fired", value=overdue.count())

    def describe(self):
        return []


COLLECTOR = EscalationCollector()
# Registered once, when the app's ready() first imports this module.
REGISTRY.register(COLLECTOR)
