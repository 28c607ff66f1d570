"""Charts on the Services page are drawn by uPlot and refresh without a reload."""
import pytest
from playwright.sync_api import expect

from ops_console.monitoring import views
from tests.waiting import wait_until

from .conftest import UP_ABOVE, UP_PANEL, make_service

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_chart_on_the_services_page_updates_without_a_reload(page_as, live_server, live_prometheus, monkeypatch):
    monkeypatch.setattr(views, "CHART_REFRESH_SECONDS", 1)
    monkeypatch.setattr(views, "LIVE_WINDOW_SECONDS", 120)   # 5 s steps: a new point every 5 s
    make_service(slos=[UP_ABOVE], panels=[UP_PANEL])
    page = page_as("responder")
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/services/")
    chart = page.locator("figure[data-chart-url]").first
    chart.locator("canvas").wait_for()                      # uPlot drew it
    expect(chart).to_have_attribute("data-state", "ok")
    first_x = float(chart.get_attribute("data-last-x"))
    page.evaluate("window.__sameDocument = true")
    # Polled from Python: wait_for_function would eval in the page, which the CSP forbids.
    wait_until(lambda: float(chart.get_attribute("data-last-x") or "-inf") > first_x,
               message="the chart's next point")
    assert page.evaluate("window.__sameDocument") is True    # updated in place, not reloaded
    assert int(chart.get_attribute("data-loads")) >= 2
    assert page.locator("[data-testid=slo-tile][data-state=ok]").count() == 1
    assert errors == []


def test_charts_say_prometheus_is_unreachable(page_as, live_server, dead_prometheus):
    make_service(panels=[UP_PANEL])
    page = page_as("auditor")
    page.goto(f"{live_server.url}/services/")
    assert "Prometheus is unreachable" in page.get_by_test_id("prometheus-unreachable").inner_text()
    expect(page.locator("figure[data-chart-url]")).to_have_attribute("data-state", "error")
    assert "Prometheus is unreachable" in page.locator("figure .chart-status").inner_text()


def test_the_budget_chart_is_drawn_from_the_month_of_history(page_as, live_server, history_settings):
    from .test_views import budgeted_service

    service = budgeted_service()
    page = page_as("responder")
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}{service.get_absolute_url()}")
    chart = page.get_by_test_id("budget-chart")
    chart.locator("canvas").wait_for()                      # uPlot drew it
    expect(chart).to_have_attribute("data-state", "ok")
    assert "61.8 %" in page.get_by_test_id("budget-left").inner_text()
    assert errors == []
