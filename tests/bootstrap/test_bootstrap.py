"""manage.py bootstrap: what production needs, idempotent, and nothing fake."""
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from ops_console.escalation.models import EscalationPolicy, Rotation
from ops_console.incidents.models import AlertRouting, ApiToken, Incident, Severity
from ops_console.monitoring.models import Service
from ops_console.runbooks.models import Runbook

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [p for p in (REPO / "runbooks").glob("*.md") if p.name.lower() != "readme.md"]


def bootstrap(*args):
    out, err = StringIO(), StringIO()
    call_command("bootstrap", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_sets_up_production_and_nothing_fake_twice_over(db):
    EscalationPolicy.objects.all().delete()
    Group.objects.get(name="auditor").permissions.clear()
    first, errors = bootstrap()
    second, _ = bootstrap()
    assert errors == ""
    assert set(Group.objects.values_list("name", flat=True)) >= {"responder", "commander", "auditor", "admin"}
    assert Group.objects.get(name="auditor").permissions.filter(codename="view_incident").exists()
    assert list(Severity.objects.order_by("rank").values_list("code", flat=True)) == ["P0", "P1", "P2", "P3"]
    assert AlertRouting.objects.count() == 1
    assert EscalationPolicy.objects.filter(service=None).count() == 4
    assert Runbook.objects.count() == len(SHIPPED) > 10
    assert f"{len(SHIPPED)} unchanged" in second
    # The services the shipped runbooks and rules name (runbooks/services.yaml), added once.
    assert Service.objects.count() == len(yaml.safe_load((REPO / "runbooks" / "services.yaml").read_text())) > 5
    assert f"0 created, {Service.objects.count()} unchanged" in second
    # Nothing fake: no users, incidents, rotations or tokens.
    assert get_user_model().objects.count() == 0
    assert Incident.objects.count() == Rotation.objects.count() == 0
    assert ApiToken.objects.count() == 0
    assert "Login" not in first


@pytest.mark.parametrize("name", ["high-error-rate"])
def test_a_shipped_runbook_has_phases_and_steps(db, name):
    bootstrap()
    doc = Runbook.objects.get(slug=name).current_version.parsed()
    assert doc.phases and len(doc.steps) > 5


def test_issues_the_alertmanager_token_once_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("OPS_CONSOLE_ALERTMANAGER_TOKEN", "oc_local-alertmanager-token")
    bootstrap("--alertmanager-token")
    bootstrap("--alertmanager-token")
    assert ApiToken.objects.authenticate("oc_local-alertmanager-token") is not None
    assert ApiToken.objects.count() == 1


def test_the_alertmanager_token_needs_its_variable(db, monkeypatch):
    monkeypatch.delenv("OPS_CONSOLE_ALERTMANAGER_TOKEN", raising=False)
    with pytest.raises(CommandError, match="OPS_CONSOLE_ALERTMANAGER_TOKEN"):
        bootstrap("--alertmanager-token")


def test_creates_the_first_admin_once(db):
    first, _ = bootstrap("--create-admin")
    second, _ = bootstrap("--create-admin")
    admin = get_user_model().objects.get()
    assert admin.is_superuser and admin.groups.filter(name="admin").exists()
    assert "Login: admin / " in first and "existing account" in second


def test_a_missing_runbook_library_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="is not a directory"):
        bootstrap("--runbooks", str(tmp_path / "nope"))
