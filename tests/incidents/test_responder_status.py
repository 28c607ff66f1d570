"""A responder may mark mitigated and resolved the incidents they respond to
(and nothing else, and no other incident); commanders and admins any change."""
import pytest
from django.test import Client
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from ops_console.incidents.models import Incident

from .conftest import open_incident


def post_status(client, incident, status):
    return client.post(reverse("incidents:status", args=[incident.reference]), {"status": status})


@pytest.mark.parametrize("status", ["mitigated", "resolved"])
def test_a_responder_on_the_incident_mitigates_or_resolves_it(client_as, status):
    client = client_as("responder")
    incident = open_incident()
    incident.responders.add(client.user)
    assert post_status(client, incident, status).status_code == 302
    assert Incident.objects.get(pk=incident.pk).status == status
    assert AuditEntry.objects.filter(action="incident.status_changed", actor=client.user).exists()


def test_the_incident_page_offers_a_responder_only_those_buttons(client_as):
    client = client_as("responder")
    incident = open_incident()
    assert 'data-testid="to-resolved"' not in client.get(incident.get_absolute_url()).content.decode()
    incident.responders.add(client.user)
    html = client.get(incident.get_absolute_url()).content.decode()
    assert 'data-testid="to-resolved"' in html and 'data-testid="to-mitigated"' in html


def test_a_responder_may_not_reopen_or_close(client_as):
    client = client_as("responder")
    incident = open_incident()
    incident.responders.add(client.user)
    post_status(client, incident, "mitigated")
    assert post_status(client, incident, "acknowledged").status_code == 302   # refused, with a message
    assert Incident.objects.get(pk=incident.pk).status == "mitigated"
    post_status(client, incident, "resolved")
    assert post_status(client, incident, "triggered").status_code == 403      # nothing left for them
    assert post_status(client, incident, "closed").status_code == 403
    assert Incident.objects.get(pk=incident.pk).status == "resolved"


@pytest.mark.parametrize("role,code", [("responder", 403), ("auditor", 403), ("commander", 302), ("admin", 302)])
def test_on_an_incident_they_do_not_respond_to(client_as, role, code):
    incident = open_incident()
    assert post_status(client_as(role), incident, "resolved").status_code == code
    assert Incident.objects.get(pk=incident.pk).status == ("resolved" if code == 302 else "triggered")


def test_anonymous_and_csrf(client, make_user, db):
    incident = open_incident()
    assert post_status(client, incident, "resolved").status_code == 302   # to sign in
    strict = Client(enforce_csrf_checks=True)
    user = make_user("responder")
    incident.responders.add(user)
    strict.force_login(user)
    assert post_status(strict, incident, "resolved").status_code == 403
    assert Incident.objects.get(pk=incident.pk).status == "triggered"
