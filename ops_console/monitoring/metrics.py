"""The monitoring app's numbers on the console's /metrics, read at scrape time."""
from prometheus_client.core import GaugeMetricFamily


class ServicesCollector:
    def collect(self):
        from .models import SLO, Service

        gauge = GaugeMetricFamily("ops_console_services", "Services the console knows, and their SLOs",
                                  labels=["kind"])
        gauge.add_metric(["service"], Service.objects.count())
        gauge.add_metric(["slo"], SLO.objects.count())
        yield gauge
