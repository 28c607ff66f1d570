"""The signed acknowledge link in a page: GET only asks, POST acknowledges,
once, until it expires; without a login."""
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from ops_console.escalation import acklink, engine
from ops_console.escalation.models import Page
from ops_console.incidents.models import Incident, TimelineEvent

from .conftest import open_incident


@pytest.fixture
def page(on_call):
    incident = open_incident("P0")
    engine.fire_due(incident.escalation.started_at)
    return Page.objects.get(incident=incident)


def link(page):
    return reverse("escalation:ack", args=[acklink.make_token(page)])


def status_of(page):
    return Incident.objects.get(pk=page.incident_id).status


def test_get_shows_a_confirmation_and_acknowledges_nothing(client, page):
    response = client.get(link(page))
    assert response.status_code == 200
    assert f"Acknowledge {page.incident.reference}?".encode() in response.content
    assert status_of(page) == "triggered"
    assert Page.objects.get(pk=page.pk).link_used_at is None


def test_post_acknowledges_without_a_login_and_stops_the_escalation(client, page):
    response = client.post(link(page))
    assert response.status_code == 200 and b"acknowledged" in response.content
    assert status_of(page) == "acknowledged"
    event = TimelineEvent.objects.get(incident=page.incident, kind="acknowledged")
    assert event.actor == page.user and event.data == {"via": "link"}
    engine.fire_due(page.created_at + timedelta(minutes=29))
    assert Page.objects.filter(incident=page.incident).count() == 1   # on-call is not paged again


def test_the_link_works_once(client, page, make_user):
    client.post(link(page))
    response = client.post(link(page))
    assert response.status_code == 410 and b"already used" in response.content
    assert client.get(link(page)).status_code == 410


def test_the_link_expires(client, page):
    later = page.link_expires_at + timedelta(seconds=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = client.post(link(page))
    assert response.status_code == 410 and b"expired" in response.content
    assert status_of(page) == "triggered"


def test_a_forged_or_altered_token_is_refused(client, page):
    token = acklink.make_token(page)
    for bad in (token[:-2] + "xx", "not-a-token", token.replace(token.split(":")[0], "eyJwYWdlIjo5OTl9")):
        response = client.post(reverse("escalation:ack", args=[bad]))
        assert response.status_code == 400 and b"not valid" in response.content
    assert status_of(page) == "triggered"


def test_an_incident_acknowledged_meanwhile_is_said_so(client, page, make_user):
    from ops_console.incidents.actions import do_acknowledge

    do_acknowledge(page.incident, acting_user=make_user("responder"))
    response = client.post(link(page))
    assert response.status_code == 200 and b"already acknowledged" in response.content


def test_the_page_carries_a_working_link(page):
    from ops_console.escalation.notify import message_for

    url = message_for(page).data["ack_url"]
    assert url.endswith(link(page))
    assert page.link_expires_at == page.created_at + timedelta(hours=24)
    assert page.link_expires_at > timezone.now()
