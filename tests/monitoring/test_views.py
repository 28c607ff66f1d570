"""The Services pages with a real Prometheus, with Prometheus down, and per role."""
import time

import pytest
from django.urls import reverse

from devstack import services
from ops_console.monitoring import views
from tests.waiting import wait_until

from .conftest import UP_ABOVE, UP_BELOW, UP_PANEL, make_service

pytestmark = pytest.mark.integration


def test_services_page_shows_live_tiles_targets_and_charts(client_as, live_prometheus):
    service = make_service(slos=[UP_ABOVE, UP_BELOW], panels=[UP_PANEL])
    response = client_as("responder").get(reverse("monitoring:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert service.name in html
    assert 'data-state="ok"' in html and "100.00 %" in html       # up * 100 > 99 %
    assert 'data-state="breach"' in html                           # up < 0.5 is broken on purpose
    assert "1 of 1 up" in html
    assert reverse("monitoring:panel_data", args=[service.slug, service.panels.get().pk]) in html
    assert "Prometheus is unreachable" not in html


def test_service_page_lists_its_slos_and_panels(client_as, live_prometheus):
    service = make_service(slos=[UP_ABOVE], panels=[UP_PANEL, ("Scrape time", "scrape_duration_seconds", "seconds")],
                           description="Owned by **platform**", links=[{"title": "Repo", "url": "https://example.test/r"}])
    response = client_as("auditor").get(service.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>platform</strong>" in html and "https://example.test/r" in html
    assert html.count('data-testid="chart"') == 2
    assert "No runbook names this service yet" in html


def test_service_page_lists_the_runbooks_naming_it(client_as, dead_prometheus):
    """The runbooks app's {% runbooks_for %} tag: a JSON contains query on Runbook.services."""
    from ops_console.runbooks.models import Runbook

    service = make_service(slug="api")
    Runbook.objects.create(slug="api-errors", title="API errors", services=["web", "api"])
    Runbook.objects.create(slug="old-api", title="Old API", services=["api"], archived=True)
    Runbook.objects.create(slug="apis", title="Other APIs", services=["api-gateway", "apiserver"])
    html = client_as("responder").get(service.get_absolute_url()).content.decode()
    assert 'href="/runbooks/api-errors/">API errors</a>' in html
    assert "Old API" not in html and "Other APIs" not in html


def test_panel_data_is_aligned_for_the_chart(client_as, live_prometheus):
    service = make_service(panels=[UP_PANEL])
    panel = service.panels.get()
    client, url = client_as("responder"), reverse("monitoring:panel_data", args=[service.slug, panel.pk])
    # The session's Prometheus may have started seconds ago: wait for its first point on the 15 s grid.
    wait_until(lambda: client.get(url).json()["series"], 30, message="a point on the chart's grid")
    response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["error"] == "" and body["unit"] == "count"
    assert len(body["x"]) >= 200 and body["x"] == sorted(body["x"])
    (line,) = body["series"]
    assert line["label"] == live_prometheus.url.removeprefix("http://")
    assert len(line["values"]) == len(body["x"])
    assert [v for v in line["values"] if v is not None][-1] == 1.0
    assert None in line["values"]     # the hour before this Prometheus started is a gap, not a zero


def test_panel_data_for_an_explicit_window_with_a_marker(client_as, live_prometheus):
    service = make_service(panels=[UP_PANEL])
    now = int(time.time())
    url = reverse("monitoring:panel_data", args=[service.slug, service.panels.get().pk])
    body = client_as("responder").get(url, {"start": now - 600, "end": now, "marker": now - 300}).json()
    assert body["marker"] == now - 300 and body["step"] == 5
    assert now - 605 <= body["x"][0] <= now - 595 and now - 5 <= body["x"][-1] <= now


def test_a_marker_without_a_start_shows_half_an_hour_before_it(client_as, live_prometheus):
    service = make_service(panels=[UP_PANEL])
    marker = int(time.time()) - 600
    url = reverse("monitoring:panel_data", args=[service.slug, service.panels.get().pk])
    body = client_as("responder").get(url, {"marker": marker}).json()
    assert marker - 1805 <= body["start"] <= marker - 1800 and body["end"] >= marker


@pytest.mark.parametrize("params, message", [({"start": "yesterday"}, "start must be"),
                                             ({"start": "2026-01-02T00:00:00", "end": "2026-01-01T00:00:00"},
                                              "start must be before end"),
                                             ({"start": "0", "end": "9999999"}, "longer than 31 days")])
def test_bad_chart_windows_get_a_clear_400(client_as, live_prometheus, params, message):
    service = make_service(panels=[UP_PANEL])
    url = reverse("monitoring:panel_data", args=[service.slug, service.panels.get().pk])
    response = client_as("responder").get(url, params)
    assert response.status_code == 400 and message in response.json()["error"]


def test_a_broken_panel_query_says_why(client_as, live_prometheus):
    service = make_service(panels=[("Broken", "rate(up[5m]", "count")])
    url = reverse("monitoring:panel_data", args=[service.slug, service.panels.get().pk])
    response = client_as("responder").get(url)
    assert response.status_code == 502 and "parse error" in response.json()["error"]


def test_with_prometheus_down_every_page_answers_fast_and_says_so(client_as, dead_prometheus):
    service = make_service(slos=[UP_ABOVE, UP_BELOW], panels=[UP_PANEL])
    client = client_as("responder")
    for url in (reverse("monitoring:index"), service.get_absolute_url(),
                reverse("monitoring:status", args=[service.slug]), reverse("monitoring:alerts")):
        started = time.monotonic()
        response = client.get(url)
        assert time.monotonic() - started < 1, url
        assert response.status_code == 200 and b"Prometheus is unreachable" in response.content, url
    response = client.get(reverse("monitoring:panel_data", args=[service.slug, service.panels.get().pk]))
    assert response.status_code == 503 and "Prometheus is unreachable" in response.json()["error"]


def test_a_slow_prometheus_costs_one_timeout_per_page(client_as, settings):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    accepted = []

    def accept():  # accept and never answer: a Prometheus that hangs
        while True:
            try:
                accepted.append(listener.accept())
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.PROMETHEUS_TIMEOUT = 0.3
    make_service(slos=[UP_ABOVE, UP_BELOW])
    make_service(slug="other", slos=[UP_ABOVE])
    client, url = client_as("responder"), reverse("monitoring:index")  # outside the clock: URL conf imports
    try:
        started = time.monotonic()
        response = client.get(url)
        assert time.monotonic() - started < 1
        assert b"timed out" in response.content
        assert len(accepted) == 1   # one query waited; the breaker answered the other four at once
    finally:
        listener.close()


def test_firing_alerts_link_their_runbook(client_as, settings, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n- name: t\n  rules:\n  - alert: AlwaysFiring\n    expr: vector(1)\n"
        "    labels: {severity: critical, job: prometheus}\n"
        f"    annotations: {{summary: It fires, runbook_url: '{settings.BASE_URL}/runbooks/service-down/'}}\n")
    port = services.free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                      f"rule_files: ['{rules}']\n")
    server = services.Prometheus(port, config, tmp_path / "data").start()
    try:
        settings.PROMETHEUS_URL = server.url
        make_service(slos=[UP_ABOVE])
        client = client_as("commander")
        wait_until(lambda: b"AlwaysFiring" in client.get(reverse("monitoring:alerts")).content, 15,
                   message="the alert")
        html = client.get(reverse("monitoring:index")).content.decode()
        assert "It fires" in html and 'href="/runbooks/service-down/"' in html
        assert "1 alert" in html   # on the service whose selector (job="prometheus") it carries
        assert b"AlwaysFiring" in client.get("/services/prom/").content
        make_service(slug="quiet", selector='job="quiet"')
        quiet = client.get(reverse("monitoring:alerts"), {"service": "quiet"}).content
        assert b"AlwaysFiring" not in quiet and b"No alerts firing for Quiet" in quiet
    finally:
        server.stop()


@pytest.mark.parametrize("role", ["responder", "commander", "auditor", "admin"])
def test_every_role_may_look(client_as, dead_prometheus, role):
    service = make_service(panels=[UP_PANEL])
    client = client_as(role)
    assert client.get(reverse("monitoring:index")).status_code == 200
    assert client.get(service.get_absolute_url()).status_code == 200


def test_a_user_without_a_role_gets_403(client_as, dead_prometheus):
    service = make_service(panels=[UP_PANEL])
    client = client_as(None)
    assert client.get(reverse("monitoring:index")).status_code == 403
    assert client.get(reverse("monitoring:panel_data", args=[service.slug, service.panels.get().pk])).status_code == 403


def test_signed_out_visitors_go_to_login(client, db):
    response = client.get(reverse("monitoring:index"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_unknown_service_and_panel_are_404(client_as, dead_prometheus):
    service = make_service()
    client = client_as("responder")
    assert client.get("/services/nope/").status_code == 404
    assert client.get(reverse("monitoring:panel_data", args=[service.slug, 999])).status_code == 404


def test_nothing_here_changes_state(client_as, dead_prometheus):
    service = make_service(panels=[UP_PANEL])
    client = client_as("admin")
    for url in (reverse("monitoring:index"), service.get_absolute_url()):
        assert client.post(url).status_code == 405


def test_empty_state(client_as, dead_prometheus):
    assert b"No services yet" in client_as("auditor").get(reverse("monitoring:index")).content


def test_chart_refresh_is_wired(client_as, dead_prometheus):
    make_service(panels=[UP_PANEL])
    html = client_as("responder").get(reverse("monitoring:index")).content.decode()
    assert f'data-refresh="{views.CHART_REFRESH_SECONDS}"' in html
    assert "js/charts.js" in html and "<script>" not in html


# --- error budgets ----------------------------------------------------------------

def budgeted_service(slug="history", selector='job="history"'):
    """A service with an error-rate SLO budgeted at 99.9 % over 30 days and a threshold SLO."""
    from ops_console.monitoring.models import SLO

    service = make_service(slug=slug, selector=selector)
    SLO.objects.create(service=service, name="Error rate", query="vector(0.05)", direction=SLO.BELOW,
                       objective=0.01, unit="ratio", target=99.9, position=0,
                       error_query='(sum(rate(http_requests_total{status=~"5..", {{ selector }} }[{{ window }}]))'
                                   " or vector(0))",
                       total_query="sum(rate(http_requests_total{ {{ selector }} }[{{ window }}]))")
    SLO.objects.create(service=service, name="P95 latency", query="vector(0.05)", direction=SLO.BELOW,
                       objective=0.1, unit="seconds", position=1)
    return service


def test_service_page_shows_budget_left_burn_rates_and_a_chart(client_as, history_settings):
    """The month of tests/monitoring/history.py, read now (a few minutes after its
    last sample at most): 61.8 % left, 50x over the last hour (red), about 12.5x
    over six hours (amber); see test_budgets.py for the exact numbers."""
    service = budgeted_service()
    slo = service.slos.get(name="Error rate")
    html = client_as("responder").get(service.get_absolute_url()).content.decode()
    assert 'data-testid="budget" data-slo="error-rate" data-state="bad"' in html
    assert '<strong>61.8 %</strong>' in html and "26.7 min of 43.2 min" in html
    assert 'data-window="1 h" data-state="bad" title="burn rate over the last 1 h">1 h: 50.0×' in html
    assert 'data-window="6 h" data-state="warn"' in html
    assert "at the 1 h burn rate" in html
    assert "P95 latency (&lt; 100 ms): no error budget: threshold objective." in html
    assert reverse("monitoring:budget_data", args=[service.slug, slo.pk]) in html
    assert html.count('data-testid="budget-chart"') == 1    # none for the threshold SLO


def test_budget_chart_data_is_the_rolling_budget_over_30_days(client_as, history_settings):
    from . import history

    service = budgeted_service()
    url = reverse("monitoring:budget_data", args=[service.slug, service.slos.get(name="Error rate").pk])
    body = client_as("auditor").get(url).json()
    assert body["error"] == "" and body["unit"] == "ratio" and body["step"] == 10800
    (line,) = body["series"]
    assert len(body["x"]) == len(line["values"]) == 241
    assert line["label"] == "budget left" and line["values"][-1] == pytest.approx(history.BUDGET_LEFT, abs=1e-3)
    assert body["x"][-1] - body["x"][0] == 30 * 86400


def test_budgets_partial_polls_and_says_when_there_is_no_data(client_as, history_settings):
    service = budgeted_service(slug="silent", selector='job="silent"')
    html = client_as("responder").get(reverse("monitoring:budgets", args=[service.slug])).content.decode()
    assert f'hx-get="{reverse("monitoring:budgets", args=[service.slug])}"' in html
    assert f'hx-trigger="every {views.BUDGET_REFRESH_SECONDS}s"' in html
    assert 'data-testid="budget-nodata"' in html and "No data" in html


def test_budgets_with_prometheus_down_answer_fast_and_say_so(client_as, dead_prometheus):
    service = budgeted_service()
    client = client_as("responder")
    for url in (service.get_absolute_url(), reverse("monitoring:budgets", args=[service.slug])):
        started = time.monotonic()
        html = client.get(url).content.decode()
        assert time.monotonic() - started < 1, url
        assert "Error budgets cannot be read: Prometheus is unreachable" in html, url
        assert 'data-testid="budget-error">Prometheus unreachable' in html, url
    data = client.get(reverse("monitoring:budget_data", args=[service.slug, service.slos.get(name="Error rate").pk]))
    assert data.status_code == 503 and "Prometheus is unreachable" in data.json()["error"]


def test_a_threshold_slo_has_no_budget_chart(client_as, dead_prometheus):
    service = budgeted_service()
    client = client_as("responder")
    threshold = service.slos.get(name="P95 latency")
    assert client.get(reverse("monitoring:budget_data", args=[service.slug, threshold.pk])).status_code == 404
    assert client.get(reverse("monitoring:budget_data", args=[service.slug, 999])).status_code == 404
    html = client.get(reverse("monitoring:budgets", args=["history"])).content.decode()
    assert "no error budget: threshold objective" in html


@pytest.mark.parametrize("role, status", [("responder", 200), ("commander", 200), ("auditor", 200), ("admin", 200),
                                          (None, 403)])
def test_budget_views_per_role(client_as, dead_prometheus, role, status):
    service = budgeted_service()
    client = client_as(role)
    assert client.get(reverse("monitoring:budgets", args=[service.slug])).status_code == status
    data = client.get(reverse("monitoring:budget_data", args=[service.slug, service.slos.get(name="Error rate").pk]))
    assert data.status_code == (503 if status == 200 else status)   # allowed: Prometheus is down; refused: 403


def test_budget_views_are_read_only(client_as, dead_prometheus):
    service = budgeted_service()
    client = client_as("admin")
    assert client.post(reverse("monitoring:budgets", args=[service.slug])).status_code == 405
    url = reverse("monitoring:budget_data", args=[service.slug, service.slos.get(name="Error rate").pk])
    assert client.post(url).status_code == 405
