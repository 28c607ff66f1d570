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
