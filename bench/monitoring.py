"""Services page and chart data against a real Prometheus (scraping itself
every second): page and chart latency with a cold and a warm shared cache,
fifty viewers opening the page at the same moment (how many queries reach
Prometheus), and the page with Prometheus down. Prints a Markdown section.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python bench/monitoring.py [--short]
(`python3 -m devstack bench monitoring` starts the database and Redis for you.)"""
import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
os.environ.setdefault("OPS_CONSOLE_HTTPS", "false")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.test import Client  # noqa: E402
from prometheus_api_client import PrometheusConnect  # noqa: E402

from devstack import services  # noqa: E402
from ops_console.accounts.roles import sync_roles  # noqa: E402
from ops_console.monitoring import demo, prometheus  # noqa: E402
from ops_console.monitoring.models import Service  # noqa: E402

GOAL_DOWN_S = 1.0  # every page answers within 1 s when Prometheus is down


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


class QueryCounter:
    """Counts the HTTP requests the client sends to Prometheus."""

    def __init__(self):
        self.count, self.lock = 0, threading.Lock()
        self.patched = {}

    def __enter__(self):
        for name in ("custom_query", "custom_query_range", "get_targets"):
            real = getattr(PrometheusConnect, name)
            self.patched[name] = real

            def counting(client, *args, _real=real, **kwargs):
                with self.lock:
                    self.count += 1
                return _real(client, *args, **kwargs)

            setattr(PrometheusConnect, name, counting)
        return self

    def __exit__(self, *exc):
        for name, real in self.patched.items():
            setattr(PrometheusConnect, name, real)


def timed(client, url, reps, cold):
    samples = []
    for _ in range(reps):
        if cold:
            cache.clear()
            prometheus.reset_breaker()
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return samples


def viewers_at_once(user, url, n):
    cache.clear()
    barrier, times = threading.Barrier(n), []

    def viewer():
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        barrier.wait()
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        times.append(time.perf_counter() - started)

    with QueryCounter() as counter:
        threads = [threading.Thread(target=viewer) for _ in range(n)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    return counter.count, wall, times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--short", action="store_true")
    args = parser.parse_args()
    reps = 5 if args.short else 20
    workdir = Path(os.environ.get("BENCH_WORKDIR") or tempfile.mkdtemp()) / "bench-monitoring"
    port = services.free_port()
    config = workdir / "prometheus.yml"
    workdir.mkdir(parents=True, exist_ok=True)
    config.write_text("global: {scrape_interval: 1s}\nscrape_configs:\n"
                      f"  - job_name: ops-console\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
    server = services.Prometheus(port, config, workdir / "data").start()
    sync_roles()
    existing = set(Service.objects.values_list("slug", flat=True))
    demo.load(io.StringIO())
    user = get_user_model().objects.create_user(f"bench-monitoring-{time.time_ns()}", password="x")
    user.groups.add(Group.objects.get(name="responder"))
    rows = []
    try:
        settings.PROMETHEUS_URL = server.url
        time.sleep(3)  # a few scrapes, so the tiles have numbers
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        console = Service.objects.get(slug="ops-console")
        chart = f"/services/ops-console/panels/{console.panels.first().pk}.json"
        client.get("/services/")  # imports, templates
        with QueryCounter() as counter:
            timed(client, "/services/", 1, cold=True)
        per_page = counter.count
        for label, url in (("Services page (3 services, 7 SLO tiles, targets, alerts)", "/services/"),
                           ("Chart JSON, last hour (240 points)", chart)):
            for cold in (True, False):
                samples = timed(client, url, reps, cold)
                rows.append((label, "cold cache" if cold else "warm cache", statistics.median(samples),
                             percentile(samples, 95)))
        n = 10 if args.short else 50
        queries, wall, times = viewers_at_once(user, "/services/", n)
        settings.PROMETHEUS_URL = f"http://127.0.0.1:{services.free_port()}"
        down = timed(client, "/services/", reps, cold=True)
        rows.append(("Services page, Prometheus down (connection refused)", "cold cache", statistics.median(down),
                     percentile(down, 95)))
    finally:
        server.stop()
        Service.objects.exclude(slug__in=existing).delete()
        user.delete()
    print("## Services page and charts (live Prometheus)\n")
    print(f"{'Short' if args.short else 'Full'} mode, {reps} requests per row through Django's test client; "
          "Prometheus 2.42 on loopback scraping the console's job every second; the shared cache is Redis "
          f"({prometheus.CACHE_SECONDS} s). Cold: cache cleared before each request.\n")
    print("| what | cache | median ms | p95 ms |")
    print("| --- | --- | ---: | ---: |")
    for label, mode, median, p95 in rows:
        print(f"| {label} | {mode} | {median * 1000:.0f} | {p95 * 1000:.0f} |")
    print(f"\n- One Services page with a cold cache sends {per_page} queries to Prometheus.")
    print(f"- {n} viewers opening the Services page at the same moment (threads in one process, cold cache): "
          f"{queries} queries reached Prometheus instead of {n * per_page} ({per_page} distinct; a few more when the "
          f"{prometheus.CACHE_SECONDS} s \"now\" slot turns over during the run or a waiting viewer stops waiting "
          f"for a slow first one); all {n} pages in {wall:.2f} s, slowest {max(times) * 1000:.0f} ms.")
    print(f"- Prometheus down: slowest page {max(down) * 1000:.0f} ms (goal < {GOAL_DOWN_S * 1000:.0f} ms: "
          f"{'met' if max(down) < GOAL_DOWN_S else 'missed'}).")


if __name__ == "__main__":
    main()
