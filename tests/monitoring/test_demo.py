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


def test_the_demo_services_are_the_library_file_s():
    """One definition: the demo loads runbooks/services.yaml's entries for its three services."""
    from ops_console.monitoring.management.commands.load_services import SHIPPED, read_services

    demo.load(io.StringIO())
    shipped = {e["slug"]: e for e in read_services(SHIPPED)}
    for service in Service.objects.prefetch_related("slos", "panels"):
        entry = shipped[service.slug]
        assert service.selector == entry["selector"] and service.name == entry["name"]
        assert [s.query for s in service.slos.all()] == [s["query"] for s in entry["slos"]]
        assert [(s.target, s.error_query) for s in service.slos.all()] == [
            (s.get("target"), s.get("error_query", "")) for s in entry["slos"]]
        assert [p.query for p in service.panels.all()] == [p["query"] for p in entry["panels"]]
    assert not hasattr(demo, "SERVICES")


def test_a_changed_library_file_is_what_the_demo_loads(tmp_path, settings):
    path = tmp_path / "services.yaml"
    path.write_text("- {slug: ops-console, name: Console, selector: 'job=\"console\"'}\n"
                    "- {slug: backend, name: Backend, selector: 'job=\"api\"'}\n"
                    "- {slug: ai-core, name: AI, selector: 'job=\"ai\"'}\n")
    demo.load(io.StringIO(), path=path)
    assert dict(Service.objects.values_list("slug", "selector")) == {
        "ops-console": 'job="console"', "backend": 'job="api"', "ai-core": 'job="ai"'}
    assert Service.objects.get(slug="ops-console").links[0]["title"] == "Prometheus targets"
