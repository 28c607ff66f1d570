"""On a 390 px phone, with a 1,000-character unbroken alert title: no page
scrolls sideways (tables scroll inside their card), the navigation takes one
row, and the on-call journey (open, acknowledge, start the runbook, resolve)
needs no sideways scrolling."""
import json
import urllib.request

import pytest

from ops_console.incidents.intake_config import do_create_token
from ops_console.incidents.models import Incident
from tests.incidents.conftest import AM_URL, am_alert, am_payload
from tests.monitoring.conftest import UP_PANEL, live_prometheus, make_service  # noqa: F401 (a fixture)
from tests.runbooks.builders import make_doc, make_version, step

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LONG = "X" * 1000
NAME = "Disk" + "Q" * 996


def fits(page):
    """(page width, viewport width, the widest element's description) of the page as it stands."""
    return page.evaluate("""() => {
        const vw = window.innerWidth, sw = document.documentElement.scrollWidth;
        let widest = null;
        if (sw > vw) {
          for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.right > vw + 1 && !el.closest('.table-wrap, .scroll-x, pre, .nav')
                && (!widest || r.right > widest.right)) {
              widest = {right: Math.round(r.right), tag: el.tagName, cls: el.className, id: el.id,
                        text: (el.textContent || '').slice(0, 40)};
            }
          }
        }
        return [sw, vw, widest];
    }""")


def assert_fits(page, what):
    width, viewport, widest = fits(page)
    assert width <= viewport, f"{what}: the page is {width} px wide on a {viewport} px phone; widest: {widest}"


@pytest.fixture
def alert_incident(live_server):
    """An incident opened by a real Alertmanager delivery whose name and summary are 1,000 unbroken characters,
    linked to a runbook whose title is as long as the field allows (200). The incident's own title keeps the
    first 300 characters (its field's length); the whole name is on the incident page, in its alerts."""
    version = make_version(make_doc(step("manual", "Check the disk " + LONG, title="T" * 300), slug="disk-full"))
    runbook = version.runbook
    runbook.title, runbook.alerts = "R" * 200, [NAME]
    runbook.save(update_fields=["title", "alerts"])
    _, token = do_create_token("phone-test", acting_user=None)
    body = am_payload(am_alert(name=NAME, fingerprint="fp-phone",
                               labels={"instance": "host-" + LONG},
                               annotations={"summary": LONG, "description": "D" * 1000}))
    request = urllib.request.Request(live_server.url + AM_URL, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 202)
    return Incident.objects.get(source="alertmanager")


def phone(page_as, role, **kw):
    page = page_as(role, **kw)
    page.set_viewport_size(PHONE)
    return page


def test_every_page_fits_a_phone_with_a_long_title(page_as, live_server, alert_incident):
    page = phone(page_as, "commander")
    base = live_server.url
    for path in ("/", "/incidents/", alert_incident.get_absolute_url(), "/history/", "/reports/", "/oncall/",
                 "/runbooks/", "/runbooks/disk-full/", "/services/"):
        page.goto(base + path)
        assert_fits(page, path)
        if path == alert_incident.get_absolute_url():
            assert NAME in page.content() and LONG in page.content()  # the 1,000 characters are there
    # The board names who was paged, on a phone too.
    page.goto(base + "/incidents/")
    row = page.get_by_test_id("incident-row").first
    assert row.get_by_test_id("paged").is_visible()
    nav = page.get_by_role("navigation", name="Main")
    assert nav.evaluate("el => el.getBoundingClientRect().height") < 48, "the navigation takes more than one row"


def test_the_on_call_journey_on_a_phone(page_as, live_server, alert_incident, make_user):
    """The paged on-call engineer (a responder): from their page on the home page to resolved."""
    from ops_console.escalation import engine
    from ops_console.escalation.matrix import ensure_defaults
    from tests.escalation.conftest import staff_rotation

    ensure_defaults()
    engineer = make_user("responder", username="oncall_" + "e" * 100)
    staff_rotation("oncall-sre", engineer)
    engine.fire_due(alert_incident.escalation.started_at)
    page = phone(page_as, "responder", user=engineer)
    page.goto(live_server.url + "/")
    page.get_by_test_id("home-pages").get_by_role("link", name=alert_incident.reference).click()
    page.wait_for_url(live_server.url + alert_incident.get_absolute_url())
    assert_fits(page, "incident page")
    page.get_by_test_id("acknowledge").click()
    page.get_by_test_id("status").filter(has_text="Acknowledged").wait_for()
    assert_fits(page, "acknowledged incident")
    page.get_by_test_id("start-runbook").click()
    page.wait_for_url(f"{live_server.url}/runbooks/disk-full/start/**")
    assert_fits(page, "start page")
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url(f"{live_server.url}/runs/*/")
    assert_fits(page, "run page")
    page.goto(live_server.url + alert_incident.get_absolute_url())
    page.get_by_test_id("to-resolved").click()
    page.get_by_test_id("status").filter(has_text="Resolved").wait_for()
    assert_fits(page, "resolved incident")
    alert_incident.refresh_from_db()
    assert alert_incident.status == "resolved"
    for path, long_text in (("/history/", NAME[:40]), ("/reports/", "R" * 40), ("/runs/", "R" * 40),
                            ("/runbooks/", NAME[:40])):
        page.goto(live_server.url + path)
        assert long_text in page.content(), path  # the long title is there, wrapped or cut
        assert_fits(page, path)


@pytest.mark.integration
def test_charts_stay_inside_their_card_on_a_phone(page_as, live_server, live_prometheus):
    service = make_service(slug="backend", panels=[("Targets up " + "U" * 180, *UP_PANEL[1:]), UP_PANEL])
    page = phone(page_as, "responder")
    for path in (service.get_absolute_url(), "/services/"):
        page.goto(live_server.url + path)
        charts = page.locator("figure[data-chart-url]")
        charts.first.locator("canvas").first.wait_for()
        assert_fits(page, path)
        for n in range(charts.count()):
            # The canvas (its right edge: the newest point) lies within the card around it.
            inside = charts.nth(n).evaluate("""fig => {
                const card = fig.closest('.card, .service, section') || document.body;
                const c = card.getBoundingClientRect();
                return [...fig.querySelectorAll('canvas')].every(
                    el => { const r = el.getBoundingClientRect();
                            return r.left >= c.left - 1 && r.right <= c.right + 1; });
            }""")
            assert inside, f"{path}: chart {n} sticks out of its card"
