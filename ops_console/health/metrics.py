"""The console's own Prometheus metrics on /metrics. Request counters are
counted in-process (summed across gunicorn workers when PROMETHEUS_MULTIPROC_DIR
is set); domain numbers (open incidents, pages, step runs) come from collectors
each app registers on prometheus_client's default REGISTRY, which read the
database at scrape time so every process agrees."""
import os

from prometheus_client import (GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, REGISTRY, CollectorRegistry,
                               Counter, Histogram, generate_latest, multiprocess)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# Where the counters this process keeps are registered. With several workers,
# each worker's counts go to files that MultiProcessCollector sums at scrape
# time, so they stay off the default registry (which then holds only the domain
# collectors), and so do one worker's process and Python numbers, which mean
# nothing for the whole.
IN_PROCESS = CollectorRegistry() if MULTIPROCESS else REGISTRY
if MULTIPROCESS:
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        REGISTRY.unregister(collector)

REQUESTS = Counter("ops_console_http_requests_total", "HTTP requests", ["method", "view", "status"],
                   registry=IN_PROCESS)
LATENCY = Histogram(
    "ops_console_http_request_duration_seconds", "HTTP request latency", ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=IN_PROCESS,
)


def exposition():
    """The text /metrics answers."""
    if not MULTIPROCESS:
        return generate_latest(REGISTRY)
    workers = CollectorRegistry()
    multiprocess.MultiProcessCollector(workers)
    # Two expositions with no metric name in common make one valid exposition.
    return generate_latest(workers) + generate_latest(REGISTRY)
