"""The home page puts what is on fire first: the signed-in person's own pages
of open incidents, then the open incidents, per role."""
import pytest
from django.urls import reverse

from ops_console.escalation import engine
from ops_console.incidents.actions import do_change_status

from .conftest import open_incident


@pytest.fixture
def fire(on_call):
    """Two open incidents, the on-call SRE paged for both; one resolved incident."""
    p1, p2 = open_incident("P1", title="Checkout returns 502"), open_incident("P2", title="Slow search")
    gone = open_incident("P1", title="Yesterday's outage")
    for incident in (p1, p2, gone):
        engine.fire_due(incident.escalation.started_at)
    do_change_status(gone, "resolved", acting_user=None)
    return {"p1": p1, "p2": p2, "gone": gone, "sre": on_call["oncall-sre"]}


def test_the_paged_person_sees_their_open_pages_first(client, fire):
    client.force_login(fire["sre"])
    body = client.get(reverse("home")).content.decode()
    pages = body[body.index('data-testid="home-pages"'):body.index('data-testid="home-incidents"')]
    assert fire["p1"].reference in pages and fire["p2"].reference in pages
    assert fire["gone"].reference not in pages  # resolved: no longer on fire
    assert "Acknowledge" in pages
    order = [body.index(s) for s in ('data-testid="home-pages"', 'data-testid="home-incidents"', "<h2>Runbooks</h2>")]
    assert order == sorted(order)


@pytest.mark.parametrize("role", ["responder", "commander", "auditor", "admin"])
def test_everyone_sees_the_open_incidents_most_severe_first(client_as, fire, role):
    body = client_as(role).get(reverse("home")).content.decode()
    incidents = body[body.index('data-testid="home-incidents"'):]
    assert "Open incidents (2)" in incidents
    assert incidents.index("Checkout returns 502") < incidents.index("Slow search")
    assert "Yesterday" not in incidents
    assert "Nobody paged you for an open incident." in body  # their own pages: none


def test_anonymous_is_sent_to_sign_in(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_unacknowledged_pages_come_before_acknowledged_ones(client, fire):
    from ops_console.escalation.models import Page

    Page.objects.filter(incident=fire["p2"]).update(acknowledged_at=fire["p2"].detected_at)  # the newer one
    client.force_login(fire["sre"])
    body = client.get(reverse("home")).content.decode()
    assert body.index(fire["p1"].reference) < body.index(fire["p2"].reference)
