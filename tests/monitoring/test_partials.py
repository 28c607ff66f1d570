"""The chart partial other pages include (the incident page: its own window,
its start marked), and what it says when Prometheus is down."""
from datetime import datetime, timezone

import pytest
from django.template.loader import render_to_string

from .conftest import UP_PANEL, make_service

pytestmark = pytest.mark.django_db
START = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
END = datetime(2026, 11, 23, 11, 30, tzinfo=timezone.utc)


def test_an_incident_window_with_its_start_marked(dead_prometheus):
    service = make_service(panels=[UP_PANEL, ("Second", "up", "count")])
    html = render_to_string("monitoring/partials/service_charts.html",
                            {"service": service, "start": START, "end": END, "marker": START})
    assert html.count('data-testid="chart"') == 2
    assert f'data-start="{START.timestamp():.0f}"' in html and f'data-end="{END.timestamp():.0f}"' in html
    assert f'data-marker="{START.timestamp():.0f}"' in html
    assert 'data-refresh="0"' in html                 # a closed window does not poll
    assert "js/charts.js" in html and "uPlot" in html  # brings its own scripts when included elsewhere
    assert "Prometheus is unreachable" in html


def test_an_open_incident_keeps_refreshing(live_prometheus):
    service = make_service(panels=[UP_PANEL])
    html = render_to_string("monitoring/partials/service_charts.html", {"service": service, "start": START})
    assert 'data-end=""' in html and 'data-refresh="15"' in html
    assert "Prometheus is unreachable" not in html


def test_a_service_without_panels_says_so(dead_prometheus):
    html = render_to_string("monitoring/partials/service_charts.html", {"service": make_service()})
    assert "No dashboard panels" in html


def test_incident_page_shows_its_services_charts_with_the_start_marked(client_as, live_prometheus):
    from ops_console.incidents import actions
    from ops_console.incidents.models import Severity

    service = make_service(panels=[UP_PANEL])
    incident = actions.do_open_incident(title="Prometheus flaps", severity=Severity.objects.get(code="P2"),
                                        services=[service])
    body = client_as("responder").get(incident.get_absolute_url()).content.decode()
    assert "Metrics around the incident" in body
    assert f'data-marker="{incident.detected_at.timestamp():.0f}"' in body
    assert 'data-testid="chart"' in body and "Targets up" in body


def test_incident_page_says_prometheus_is_unreachable_quickly(client_as, dead_prometheus):
    import time

    from ops_console.incidents import actions
    from ops_console.incidents.models import Severity

    service = make_service(panels=[UP_PANEL])
    incident = actions.do_open_incident(title="Dark", severity=Severity.objects.get(code="P2"), services=[service])
    client = client_as("responder")
    started = time.monotonic()
    response = client.get(incident.get_absolute_url())
    assert response.status_code == 200
    assert time.monotonic() - started < 1.0
    assert "Prometheus is unreachable" in response.content.decode()
