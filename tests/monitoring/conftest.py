"""Monitoring fixtures: settings pointed at the real test Prometheus (or at a
port where nothing listens), a clean breaker, and a service builder."""
import pytest

from devstack import services
from ops_console.monitoring import prometheus as prom
from ops_console.monitoring.models import SLO, Panel, Service


@pytest.fixture(autouse=True)
def fresh_breaker():
    prom.reset_breaker()
    yield
    prom.reset_breaker()


@pytest.fixture
def live_prometheus(settings, prometheus):
    settings.PROMETHEUS_URL = prometheus.url
    return prometheus


@pytest.fixture
def dead_prometheus(settings):
    """PROMETHEUS_URL where nothing listens: Prometheus is down."""
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{services.free_port()}"
    return settings.PROMETHEUS_URL


def make_service(slug="prom", selector='job="prometheus"', slos=(), panels=(), **extra):
    """A service; slos as (name, query, direction, objective, unit), panels as (title, query, unit)."""
    service = Service.objects.create(slug=slug, name=extra.pop("name", slug.title()), selector=selector, **extra)
    for i, (name, query, direction, objective, unit) in enumerate(slos):
        SLO.objects.create(service=service, name=name, query=query, direction=direction, objective=objective,
                           unit=unit, position=i)
    for i, (title, query, unit) in enumerate(panels):
        Panel.objects.create(service=service, title=title, query=query, unit=unit, legend="instance", position=i)
    return service


UP_ABOVE = ("Up", "up{ {{ selector }} } * 100", SLO.ABOVE, 99.0, "percent")
UP_BELOW = ("Down", "up{ {{ selector }} }", SLO.BELOW, 0.5, "ratio")
UP_PANEL = ("Targets up", "up{ {{ selector }} }", "count")


# --- a month of history, backfilled ---------------------------------------------

class HistoryPrometheus(services.Prometheus):
    """A Prometheus that keeps the backfilled month (the default retention, 15
    days, would delete half of it at start)."""

    def argv(self):
        return [*super().argv(), "--storage.tsdb.retention.time=400d"]


@pytest.fixture(scope="session")
def history_prometheus(tmp_path_factory):
    """A real Prometheus holding the 31 days of tests/monitoring/history.py, made
    at once by `promtool tsdb create-blocks-from openmetrics`, ending on the
    minute the fixture started (`.end`). Once per session; tests that read "now"
    rather than `.end` must allow for the minutes since."""
    import subprocess

    from . import history

    workdir = tmp_path_factory.mktemp("history")
    source = workdir / "history.om"
    end = history.last_minute()
    source.write_text(history.openmetrics(end))
    # Blocks of up to 32 days, not promtool's default of 2 hours: 2 blocks instead of 373, in under
    # a second instead of 25.
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=768h",
                    str(source), str(workdir / "data" / "tsdb")], check=True, capture_output=True, timeout=300)
    config = workdir / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1m, evaluation_interval: 1m}\n")
    server = HistoryPrometheus(services.free_port(), config, workdir / "data").start()
    server.end = end
    yield server
    server.stop()


@pytest.fixture
def history_settings(settings, history_prometheus):
    settings.PROMETHEUS_URL = history_prometheus.url
    return history_prometheus
