"""In Chromium: the paged responder acknowledges from My pages, the signed link
works without a login, the auditor sees nothing that changes anything."""
import pytest

from ops_console.escalation import acklink, engine
from ops_console.escalation.models import EscalationPolicy, Page
from ops_console.incidents.models import Incident

from .conftest import open_incident, staff_rotation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def paged(on_call):
    incident = open_incident("P1")
    engine.fire_due(incident.escalation.started_at)
    return incident, Page.objects.get(incident=incident)


def test_paged_responder_acknowledges_from_my_pages(page_as, on_call, live_server):
    incident, _ = paged(on_call)
    staff_rotation("oncall-sre", on_call["oncall-sre"], on_call["senior-sre"])  # someone is next
    browser = page_as("responder", user=on_call["oncall-sre"])
    errors = []
    browser.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    browser.get_by_role("navigation", name="Main").get_by_role("link", name="On call").click()
    assert browser.get_by_test_id("oncall").get_by_text("oncall_sre").is_visible()
    assert browser.locator("[data-countdown]").first.inner_text().startswith("in ")
    browser.get_by_role("link", name="My pages").click()
    browser.get_by_role("button", name="Acknowledge").click()
    assert browser.get_by_role("status").filter(has_text="acknowledged").is_visible()
    assert Incident.objects.get(pk=incident.pk).status == "acknowledged"
    assert errors == []


def test_signed_link_acknowledges_without_a_login(new_context, on_call, live_server):
    incident, page = paged(on_call)
    browser = new_context().new_page()
    browser.goto(live_server.url + f"/ack/{acklink.make_token(page)}")
    assert Incident.objects.get(pk=incident.pk).status == "triggered"
    browser.get_by_role("button", name=f"Acknowledge {incident.reference}").click()
    assert browser.get_by_role("heading", name="Acknowledged").is_visible()
    assert Incident.objects.get(pk=incident.pk).status == "acknowledged"


def test_auditor_sees_no_control_that_changes_anything(page_as, on_call, live_server):
    paged(on_call)
    policy = EscalationPolicy.objects.get(severity="P1", service=None)
    browser = page_as("auditor")
    for path in ("/oncall/", "/escalation/", f"/escalation/{policy.pk}/", "/maintenance/", "/pages/"):
        browser.goto(live_server.url + path)
        forms = browser.locator("form[method=post]")
        assert [forms.nth(i).get_attribute("action") for i in range(forms.count())] == ["/accounts/logout/"], path


def test_a_failed_attempt_shows_on_the_open_incident_page_within_5_s(page_as, on_call, live_server, receiver):
    """The page is already open; a delivery fails meanwhile: htmx's poll of the
    deliveries partial shows the failed attempt, in red, without a reload."""
    import time

    from ops_console.escalation import notify
    from ops_console.escalation.models import ContactMethod

    hook = receiver(503)
    ContactMethod.objects.create(user=on_call["oncall-sre"], url="json://" + hook.url.removeprefix("http://"))
    incident, page = paged(on_call)
    browser = page_as("commander")
    browser.set_viewport_size({"width": 390, "height": 844})
    browser.goto(live_server.url + incident.get_absolute_url())
    assert browser.get_by_test_id("delivery").first.get_attribute("data-status") == "pending"
    notify.deliver(page.deliveries.get().pk)
    failed_at = time.monotonic()
    attempt = browser.locator('[data-testid="attempt"][data-outcome="failed"]')
    attempt.wait_for(timeout=5000)
    assert time.monotonic() - failed_at < 5
    assert "next try at" in browser.get_by_test_id("page-deliveries").inner_text()
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
