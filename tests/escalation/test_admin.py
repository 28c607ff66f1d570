"""Admin → Maintenance windows: a recurring window's cron, duration and time zone
are in the list, beside the one-off windows; only admins reach it."""
from datetime import datetime, timedelta, timezone

import pytest

from ops_console.escalation.maintenance import do_create_recurring_window
from ops_console.escalation.models import MaintenanceWindow

from .conftest import service

LIST = "/admin/escalation/maintenancewindow/"


def test_the_list_shows_the_recurrence(client_as):
    client = client_as("admin")
    do_create_recurring_window(service=service("api"), cron="30 2 * * 0", duration=timedelta(minutes=90),
                               time_zone="Europe/Berlin", reason="weekly patching",
                               starts_at=datetime(2026, 3, 1, tzinfo=timezone.utc), acting_user=client.user)
    start = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    MaintenanceWindow.objects.create(service=service("db"), starts_at=start, ends_at=start + timedelta(hours=1),
                                     reason="one-off upgrade")
    response = client.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    for column in ("Service", "Starts at", "Ends at", "Cron", "Duration", "Time zone", "Reason"):
        assert f">{column}<" in html, column
    assert "30 2 * * 0" in html and "1:30:00" in html and "Europe/Berlin" in html and "weekly patching" in html
    assert "one-off upgrade" in html


@pytest.mark.parametrize("role", ["commander", "responder", "auditor"])
def test_other_roles_do_not_reach_it(client_as, role):
    response = client_as(role).get(LIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_anonymous_does_not_reach_it(client, db):
    response = client.get(LIST)
    assert response.status_code == 302 and response["Location"].endswith(f"login/?next={LIST}")
