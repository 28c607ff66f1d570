"""The console's own Prometheus metrics. Request counters live in-process
(aggregated across gunicorn workers when PROMETHEUS_MULTIPROC_DIR is set);
domain numbers (open incidents, pages, step runs) are read from the database at
scrape time by collectors the apps register, so every process agrees."""
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

REQUESTS = Counter("ops_console_http_requests_total", "HTTP requests", ["method", "view", "status"])
LATENCY = Histogram(
    "ops_console_http_request_duration_seconds", "HTTP request latency", ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_domain_collectors = []


def register_domain_collector(collector):
    """Add a prometheus_client collector whose collect() reads the database."""
    if collector not in _domain_collectors:
        _domain_collectors.append(collector)


def exposition():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for collector in list(DEFAULT_REGISTRY._collector_to_names):
            registry.register(collector)
    for collector in _domain_collectors:
        registry.register(collector)
    return generate_latest(registry)
