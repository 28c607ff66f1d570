"""Domain metrics read from the database at scrape time: open incidents by
severity, webhook deliveries by outcome and the alert queue's backlog (in all,
and in each applier's partition)."""
from django.db.models import Count
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily


class IncidentCollector:
    def collect(self):
        from .models import OPEN_STATUSES, Incident, Severity, WebhookPayload

        open_incidents = GaugeMetricFamily("ops_console_incidents_open", "Open incidents by severity",
                                           labels=["severity"])
        counts = dict(Incident.objects.filter(status__in=OPEN_STATUSES).values_list("severity__code")
                      .annotate(n=Count("pk")).values_list("severity__code", "n"))
        for code in Severity.objects.values_list("code", flat=True):
            open_incidents.add_metric([code], counts.get(code, 0))
        yield open_incidents
        # A gauge of a count that only grows behaves like a counter, but the
        # rows are the source of truth so every web process reports the same.
        payloads = GaugeMetricFamily("ops_console_webhook_payloads", "Alert webhook deliveries by source and outcome",
                                     labels=["source", "outcome"])
        for source, outcome, n in (WebhookPayload.objects.values_list("source", "outcome")
                                   .annotate(n=Count("pk")).values_list("source", "outcome", "n")):
            payloads.add_metric([source, outcome], n)
        yield payloads
        from .alert_queue import backlog, backlog_by_partition

        depth, oldest = backlog()
        yield GaugeMetricFamily("ops_console_alert_queue_depth",
                                "Alertmanager deliveries stored but not applied yet", value=depth)
        yield GaugeMetricFamily("ops_console_alert_queue_oldest_seconds",
                                "Age of the oldest Alertmanager delivery not applied yet (0 when none)", value=oldest)
        # Each applier's own progress: a partition whose depth only grows has no applier.
        by_partition = GaugeMetricFamily("ops_console_alert_queue_partition_depth",
                                         "Queued Alertmanager deliveries with alerts in each applier's partition",
                                         labels=["partition"])
        for partition, count in backlog_by_partition().items():
            by_partition.add_metric([str(partition)], count)
        yield by_partition

    def describe(self):
        return []


COLLECTOR = IncidentCollector()
# Registered once, when the app's ready() first imports this module.
REGISTRY.register(COLLECTOR)
