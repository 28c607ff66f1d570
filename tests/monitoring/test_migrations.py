"""Migration 0003 gives the shipped SLOs of an existing install their error
budgets, and only the rows an administrator left as shipped."""
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ops_console.monitoring.management.commands.load_services import SHIPPED, read_services
from ops_console.monitoring.models import SLO

BEFORE = [("monitoring", "0002_slos_and_panels")]


def test_the_models_match_the_migrations(db):
    call_command("makemigrations", "monitoring", check=True, dry_run=True, stdout=io.StringIO())


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_an_install_from_before_budgets_gets_the_shipped_budgets():
    backend = next(e for e in read_services(SHIPPED) if e["slug"] == "backend")
    shipped = {slo["name"]: slo for slo in backend["slos"]}
    try:
        executor = _migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        Service, OldSLO = old.get_model("monitoring", "Service"), old.get_model("monitoring", "SLO")
        backend = Service.objects.create(slug="backend", name="Backend API", selector='job="backend"')
        edited = Service.objects.create(slug="edited", name="Edited", selector='job="edited"')
        for service in (backend, edited):
            for position, name in enumerate(["P95 latency", "Error rate", "Availability"]):
                fields = {k: shipped[name][k] for k in ("name", "direction", "objective", "warning", "unit", "query")}
                if service is edited and name == "Availability":
                    fields["query"] = "avg(up{ {{ selector }} }) * 100"   # an administrator changed it
                OldSLO.objects.create(service=service, position=position, **fields)
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    budgets = {(s.service.slug, s.name): (s.target, s.window_days, s.runbook, s.error_query, s.total_query)
               for s in SLO.objects.select_related("service")}
    for name in ("Error rate", "Availability"):
        expected = shipped[name]
        assert budgets[("backend", name)] == (expected["target"], 30, expected["runbook"], expected["error_query"],
                                              expected["total_query"])
    assert budgets[("backend", "P95 latency")][0] is None
    assert budgets[("edited", "Error rate")][0] == 99.0
    assert budgets[("edited", "Availability")] == (None, 30, "", "", "")
