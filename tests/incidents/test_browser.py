"""The board refreshes itself; acknowledging from the incident page stops the countdown."""
import pytest

from ops_console.incidents.models import Incident

from .conftest import open_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_board_shows_a_new_incident_without_a_reload(page_as, live_server):
    page = page_as("commander")
    page.goto(live_server.url + "/incidents/")
    page.get_by_test_id("board-empty").wait_for()
    page.evaluate("window.notReloaded = true")
    incident = open_incident(title="Checkout returns 502", code="P0")
    row = page.locator(f'[data-testid="incident-row"][data-reference="{incident.reference}"]')
    row.wait_for(timeout=15_000)  # the board polls every 5 s
    assert "Checkout returns 502" in row.inner_text() and "P0" in row.inner_text()
    assert page.evaluate("window.notReloaded") is True


def test_acknowledging_from_the_incident_page_moves_the_countdown_to_the_next_level(page_as, live_server):
    incident = open_incident(title="API latency above SLO", code="P1")
    page = page_as("responder")
    page.goto(live_server.url + incident.get_absolute_url())
    countdown = page.get_by_test_id("countdown")
    # The escalation engine schedules its levels when the incident opens; with
    # no beat running here the first (due at once) is the next, counting as overdue.
    countdown.wait_for()
    assert countdown.inner_text().startswith(("in ", "overdue "))
    page.get_by_test_id("acknowledge").click()
    page.get_by_test_id("status").filter(has_text="Acknowledged").wait_for()
    # Acknowledged, the first level stops paging; the next one still comes while it is unresolved.
    page.get_by_test_id("next-if").filter(has_text="if unresolved").wait_for()
    assert "Next escalation: Senior SRE" in page.get_by_test_id("incident-live").inner_text()
    assert page.get_by_test_id("acknowledge").count() == 0
    assert Incident.objects.get(pk=incident.pk).status == "acknowledged"
    assert "Acknowledged" in page.get_by_test_id("timeline").inner_text()
