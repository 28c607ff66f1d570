"""Recurring maintenance windows: in effect during each occurrence of a cron
expression in a time zone, for a duration; the engine holds pages back in an
occurrence and lets them go when it ends; the page schedules and stops them."""
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from ops_console.escalation import engine
from ops_console.escalation.actions import do_end_window
from ops_console.escalation.maintenance import (WindowInvalid, active_windows, do_create_recurring_window,
                                                holding_window, next_occurrence, occurrence_at)
from ops_console.escalation.models import MaintenanceWindow
from ops_console.incidents.models import TimelineEvent

from .conftest import open_incident, pages_of, service

MIN = timedelta(minutes=1)
H = timedelta(hours=1)
SUNDAY = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)     # 2026-03-01 is a Sunday


def sundays_at_two(svc, user=None, **kw):
    kw.setdefault("starts_at", SUNDAY - timedelta(days=7))
    return do_create_recurring_window(service=svc, cron="0 2 * * 0", duration=2 * H, reason="weekly patching",
                                      acting_user=user, **kw)


def test_in_effect_during_each_occurrence_only(db):
    api = service("api")
    w = sundays_at_two(api)
    assert occurrence_at(w, SUNDAY + 1 * H) is None
    assert occurrence_at(w, SUNDAY + 2 * H) == (SUNDAY + 2 * H, SUNDAY + 4 * H)
    assert occurrence_at(w, SUNDAY + 4 * H - MIN) == (SUNDAY + 2 * H, SUNDAY + 4 * H)
    assert occurrence_at(w, SUNDAY + 4 * H) is None
    assert occurrence_at(w, SUNDAY + timedelta(days=7, hours=3)) == (SUNDAY + timedelta(days=7, hours=2),
                                                                     SUNDAY + timedelta(days=7, hours=4))
    assert occurrence_at(w, SUNDAY + timedelta(days=3, hours=3)) is None       # a Wednesday
    (found,) = active_windows([api], SUNDAY + 3 * H)
    assert found == w and found.effective_end == SUNDAY + 4 * H
    assert active_windows([api], SUNDAY + 5 * H) == []
    assert next_occurrence(w, SUNDAY + 5 * H) == SUNDAY + timedelta(days=7, hours=2)


def test_the_series_starts_ends_and_stops(db, make_user):
    api = service("api")
    w = sundays_at_two(api, starts_at=SUNDAY + 3 * H, ends_at=SUNDAY + timedelta(days=7, hours=3))
    assert occurrence_at(w, SUNDAY + 3 * H + MIN) is None       # the series began after that occurrence started
    # The last occurrence is cut at the series' end.
    assert occurrence_at(w, SUNDAY + timedelta(days=7, hours=2)) == (SUNDAY + timedelta(days=7, hours=2),
                                                                     SUNDAY + timedelta(days=7, hours=3))
    assert next_occurrence(w, SUNDAY + timedelta(days=7, hours=3)) is None
    forever = sundays_at_two(service("web"))
    do_end_window(forever, acting_user=make_user("commander"), now=SUNDAY + timedelta(days=7, hours=3))
    forever.refresh_from_db()
    assert occurrence_at(forever, SUNDAY + timedelta(days=7, hours=2, minutes=30)) is not None
    assert occurrence_at(forever, SUNDAY + timedelta(days=7, hours=3)) is None   # stopped mid-occurrence
    assert occurrence_at(forever, SUNDAY + timedelta(days=14, hours=3)) is None
    assert forever.is_over


def test_the_time_zone_and_daylight_saving(db):
    """02:30 in Berlin does not exist on 2026-03-29: that occurrence starts when the clocks jump (03:00 CEST)."""
    api = service("api")
    w = do_create_recurring_window(service=api, cron="30 2 * * *", duration=30 * MIN, time_zone="Europe/Berlin",
                                   starts_at=datetime(2026, 3, 27, tzinfo=UTC), reason="nightly", acting_user=None)
    assert occurrence_at(w, datetime(2026, 3, 28, 1, 40, tzinfo=UTC)) is not None      # 02:40 CET
    assert occurrence_at(w, datetime(2026, 3, 29, 1, 10, tzinfo=UTC)) is not None      # 03:10 CEST
    assert occurrence_at(w, datetime(2026, 3, 30, 0, 40, tzinfo=UTC)) is not None      # 02:40 CEST
    assert occurrence_at(w, datetime(2026, 3, 30, 1, 40, tzinfo=UTC)) is None


def test_the_engine_holds_pages_in_an_occurrence_and_releases_them_after(on_call, make_user):
    api = service("api")
    incident = open_incident("P1", services=[api])
    t0 = incident.escalation.started_at.astimezone(UTC)
    # Daily at the minute the incident opened, for 20 minutes: in effect when it pages first.
    start = t0.replace(second=0, microsecond=0)
    daily = do_create_recurring_window(service=api, cron=f"{t0.minute} {t0.hour} * * *", duration=20 * MIN,
                                       starts_at=t0 - 2 * H, reason="daily job", acting_user=None)
    assert occurrence_at(daily, t0) == (start, start + 20 * MIN)
    assert occurrence_at(daily, t0 - H) is None
    engine.fire_due(t0)
    assert pages_of(incident) == []
    (held,) = TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.HELD_BACK)
    assert "daily job" in held.message and f"{start + 20 * MIN:%H:%M}" in held.message
    engine.fire_due(start + 19 * MIN)
    assert pages_of(incident) == []
    engine.fire_due(start + 20 * MIN)
    assert pages_of(incident) == [(1, "oncall_sre")]


def test_pages_are_held_only_while_every_service_is_in_an_occurrence(db):
    api, web = service("api"), service("web")
    incident = open_incident("P1", services=[api, web])
    sundays_at_two(api)
    assert holding_window(incident, SUNDAY + 3 * H) is None
    sundays_at_two(web)
    assert holding_window(incident, SUNDAY + 3 * H).effective_end == SUNDAY + 4 * H
    assert holding_window(incident, SUNDAY + 5 * H) is None


def test_what_cannot_be_saved(db):
    api = service("api")
    with pytest.raises(WindowInvalid) as caught:
        do_create_recurring_window(service=api, cron="0 2 * *", duration=timedelta(0), time_zone="Mars/Base",
                                   reason=" ", acting_user=None)
    assert set(caught.value.errors) == {"cron", "duration", "time_zone", "reason"}
    assert not MaintenanceWindow.objects.exists()


# --- the page -----------------------------------------------------------------------------------------

FORM = {"cron": "0 2 * * 0", "duration_minutes": "120", "time_zone": "Europe/Berlin", "reason": "weekly patching"}


@pytest.mark.parametrize("role,status", [("admin", 302), ("commander", 302), ("responder", 403), ("auditor", 403)])
def test_scheduling_a_recurring_window_per_role(client_as, role, status):
    api = service("api")
    client = client_as(role)
    response = client.post(reverse("escalation:new_recurring_window"), {**FORM, "service": api.pk})
    assert response.status_code == status
    if status == 302:
        w = MaintenanceWindow.objects.get()
        assert (w.cron, w.duration, w.time_zone, w.ends_at) == ("0 2 * * 0", 2 * H, "Europe/Berlin", None)
        assert AuditEntry.objects.filter(action="maintenance.created").count() == 1
        body = client.get(reverse("escalation:maintenance")).content.decode()
        assert 'data-testid="window-rule"' in body and "until stopped" in body and "Stop repeating" in body
    else:
        assert not MaintenanceWindow.objects.exists()


def test_anonymous_cannot_schedule_and_the_form_needs_csrf(client, make_user):
    api = service("api")
    response = client.post(reverse("escalation:new_recurring_window"), {**FORM, "service": api.pk})
    assert response.status_code == 302 and "login" in response["Location"]
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_user("admin"))
    assert strict.post(reverse("escalation:new_recurring_window"), {**FORM, "service": api.pk}).status_code == 403
    assert not MaintenanceWindow.objects.exists()


def test_a_bad_cron_is_shown_on_the_form(client_as):
    api = service("api")
    response = client_as("admin").post(reverse("escalation:new_recurring_window"),
                                       {**FORM, "cron": "every sunday", "service": api.pk})
    assert response.status_code == 400
    assert "needs five fields" in response.content.decode()


@pytest.mark.parametrize("role", ["admin", "commander", "responder", "auditor"])
def test_the_page_shows_recurring_windows_per_role(client_as, role):
    sundays_at_two(service("api"))
    body = client_as(role).get(reverse("escalation:maintenance")).content.decode()
    assert 'data-testid="window-rule"' in body
