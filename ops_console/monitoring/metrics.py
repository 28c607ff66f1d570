"""The monitoring app's numbers on the console's /metrics, read at scrape time."""
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily


class ServicesCollector:
    def collect(self):
        from .models import SLO, Service

        gauge = GaugeMetricFamily("ops_console_services", "Services the console knows, and their SLOs",
                                  labels=["kind"])
        gauge.add_metric(["service"], Service.objects.count())
        gauge.add_metric(["slo"], SLO.objects.count())
        yield gauge

    def describe(self):
        # Nothing ahead of time: without describe() the registry would call
        # collect(), a database query, while the app loads.
        return []


COLLECTOR = ServicesCollector()
# Registered once, when the app's ready() first imports this module.
REGISTRY.register(COLLECTOR)
