"""Demo services: the console itself and the documents' services, loaded idempotently."""
import io

import pytest

from ops_console.monitoring import demo
from ops_console.monitoring.models import SLO, Service

pytestmark = pytest.mark.django_db


def test_demo_services_with_the_documents_slos_load_once():
    demo.load(io.StringIO())
    demo.load(io.StringIO())
    assert set(Service.objects.values_list("slug", flat=True)) == {"ops-console", "backend", "ai-core"}
    console = Service.objects.get(slug="ops-console")
    assert console.selector == 'job="ops-console"'
    slos = {s.name: (s.direction, s.objective) for s in console.slos.all()}
    assert slos == {"P95 latency": (SLO.BELOW, 0.1), "Error rate": (SLO.BELOW, 0.01),
                    "Availability": (SLO.ABOVE, 99.9)}
    assert console.panels.count() == 4
    assert "ops_console_http_requests_total" in console.promql(console.panels.first().query)


def test_demo_keeps_what_an_administrator_changed():
    demo.load(io.StringIO())
    Service.objects.filter(slug="backend").update(owner="payments")
    SLO.objects.filter(service__slug="backend", name="P95 latency").update(objective=0.2)
    demo.load(io.StringIO())
    backend = Service.objects.get(slug="backend")
    assert backend.owner == "payments" and backend.slos.get(name="P95 latency").objective == 0.2


def test_console_metrics_count_services(client):
    demo.load(io.StringIO())
    text = client.get("/metrics").content.decode()
    assert 'ops_console_services{kind="service"} 3.0' in text
    assert 'ops_console_services{kind="slo"} 7.0' in text
