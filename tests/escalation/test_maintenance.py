"""Which maintenance windows are active, for the engine and the incidents board."""
from datetime import datetime, timedelta, timezone as tz

from ops_console.escalation.actions import do_end_window
from ops_console.escalation.maintenance import active_windows, holding_window
from ops_console.escalation.models import MaintenanceWindow

from .conftest import open_incident, service

T = datetime(2026, 3, 1, 12, 0, tzinfo=tz.utc)
H = timedelta(hours=1)


def window(svc, start, end, reason="patching"):
    return MaintenanceWindow.objects.create(service=svc, starts_at=start, ends_at=end, reason=reason)


def test_active_windows_at_a_moment(db):
    api, web = service("api"), service("web")
    now = window(api, T - H, T + H)
    window(api, T + 2 * H, T + 3 * H)  # later
    window(web, T - 3 * H, T - H)  # over
    assert active_windows([api, web], T) == [now]
    assert active_windows([api.pk], T + 2 * H)[0].starts_at == T + 2 * H
    assert active_windows([web], T) == []


def test_a_window_ended_early_is_no_longer_active(db, make_user):
    api = service("api")
    w = window(api, T - H, T + H)
    do_end_window(w, acting_user=make_user("commander"), now=T)
    assert active_windows([api], T) == []
    assert active_windows([api], T - timedelta(minutes=30)) == [w]


def test_pages_are_held_only_when_every_service_is_in_maintenance(db):
    api, web = service("api"), service("web")
    incident = open_incident("P1", services=[api, web])
    window(api, T - H, T + H)
    assert holding_window(incident, T) is None
    w = window(web, T - H, T + 2 * H)
    assert holding_window(incident, T) is not None
    assert holding_window(incident, T).effective_end == T + H  # released when the first service is back
    assert w.is_active(T)


def test_an_incident_without_services_is_never_held(db):
    window(service("api"), T - H, T + H)
    assert holding_window(open_incident("P1"), T) is None
