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
