"""The escalation state the incidents pages show, through escalation's template
tags: who was paged and who is next, on the board, the incident page and its
polled live part (the board's maintenance windows: tests/incidents/test_views.py)."""
from django.urls import reverse

from ops_console.escalation import engine

from .conftest import open_incident


def test_board_and_incident_page_show_who_was_paged_and_who_is_next(no_repeats, client_as):
    incident = open_incident("P1", title="Checkout errors")
    engine.fire_due(incident.escalation.started_at)
    client = client_as("responder")
    board = client.get(reverse("incidents:index"), headers={"HX-Request": "true"}).content.decode()
    page = client.get(incident.get_absolute_url()).content.decode()
    live = client.get(reverse("incidents:live", args=[incident.reference])).content.decode()
    row = board[board.index(f'data-reference="{incident.reference}"'):]
    assert "oncall_sre" in row and 'data-testid="countdown"' in row and 'data-testid="next-if"' in row
    for html in (page, live):
        assert "Next escalation:" in html and 'data-testid="countdown"' in html
        assert "Paged: oncall_sre." in html


def test_an_incident_without_escalation_says_none_is_pending(client_as, db):
    incident = open_incident("P3", title="Disk at 80 %")  # no levels for P3
    html = client_as("responder").get(incident.get_absolute_url()).content.decode()
    assert "No escalation pending." in html

