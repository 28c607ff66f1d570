"""The rotation calendar and self-service overrides over HTTP, per role:
responders on the rotation take and swap their own shifts, commanders and
admins act for anyone, auditors and strangers only look; CSRF on every POST."""
from datetime import datetime, time, timedelta, timezone as dt_timezone

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ops_console.audit.models import AuditEntry
from ops_console.escalation.matrix import ensure_defaults
from ops_console.escalation.models import RotationOverride

from .conftest import staff_rotation

ROLES = ["responder", "commander", "auditor", "admin"]


@pytest.fixture
def team(db, make_user):
    ensure_defaults()
    ann, bob = make_user("responder", username="ann"), make_user("responder", username="bob")
    # Ann's week starts this Monday 00:00 UTC, Bob's the next: whole weeks in the future for both.
    monday = timezone.now().date() - timedelta(days=timezone.now().weekday())
    rotation = staff_rotation("oncall-sre", ann, bob, starts_on=monday, at=time(0, 0))
    return {"ann": ann, "bob": bob, "rotation": rotation, "monday": monday}


def later(hours):
    return (timezone.now() + timedelta(days=14, hours=hours)).replace(minute=0, second=0, microsecond=0)


def local(dt):
    return dt.strftime("%Y-%m-%dT%H:%M")


def calendar_url(**params):
    url = reverse("escalation:rotation_calendar", args=["oncall-sre"])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


@pytest.mark.parametrize("role", ROLES)
def test_everyone_with_a_role_sees_the_calendar_week_and_month(client_as, team, role):
    client = client_as(role)
    week = client.get(calendar_url(view="week"))
    month = client.get(calendar_url(view="month"))
    assert week.status_code == month.status_code == 200
    assert b'data-testid="calendar-week"' in week.content and b"ann" in week.content
    assert b'data-testid="calendar-month"' in month.content and b"bob" in month.content
    # Only those who may take shifts get the form: a responder not on the rotation, an auditor do not.
    assert (b'data-testid="override-form"' in week.content) == (role in ("commander", "admin"))


def test_anonymous_is_sent_to_sign_in(client, team):
    for url in (calendar_url(), reverse("escalation:take_shift", args=["oncall-sre"]),
                reverse("escalation:swap_shifts", args=["oncall-sre"])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.post(reverse("escalation:add_override", args=["oncall-sre"]), {})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_times_are_shown_in_the_viewers_zone(client, team):
    client.force_login(team["ann"])
    response = client.get(calendar_url(view="week", tz="Asia/Tokyo"))
    assert b'data-testid="calendar-zone">Asia/Tokyo<' in response.content
    # Midnight UTC on Monday is 09:00 in Tokyo: the stretch before it is still the previous holder's.
    assert b"09:00" in response.content
    assert response.cookies["tz"].value == "Asia/Tokyo"
    assert b"Asia/Tokyo" in client.get(calendar_url()).content  # remembered
    assert b'data-testid="calendar-zone">UTC<' in client.get(calendar_url(tz="Not/AZone")).content


@pytest.mark.parametrize("role,status", [("responder", 403), ("auditor", 403), ("commander", 302), ("admin", 302)])
def test_overrides_for_someone_else_per_role(client_as, team, role, status):
    client = client_as(role)
    start = later(0)
    response = client.post(reverse("escalation:add_override", args=["oncall-sre"]), {
        "username": "bob", "starts_at": local(start), "ends_at": local(start + timedelta(hours=2)), "tz": "UTC"})
    assert response.status_code == status
    assert RotationOverride.objects.filter(user=team["bob"]).exists() == (status == 302)
    assert AuditEntry.objects.filter(action="rotation.override_added").exists() == (status == 302)


def test_a_member_takes_hours_in_their_own_zone(client, team):
    client.force_login(team["bob"])
    start = later(0)
    response = client.post(reverse("escalation:add_override", args=["oncall-sre"]), {
        "starts_at": local(start), "ends_at": local(start + timedelta(hours=3)), "tz": "America/New_York",
        "reason": "cover"})
    assert response.status_code == 302
    override = RotationOverride.objects.get()
    # Typed as New York wall-clock time: stored five (or four) hours later in UTC.
    assert override.user == team["bob"] and override.starts_at - start in (timedelta(hours=5), timedelta(hours=4))


def test_an_overlapping_override_is_refused_with_a_clear_message(client, team):
    client.force_login(team["bob"])
    start = later(0)
    RotationOverride.objects.create(rotation=team["rotation"], user=team["ann"], starts_at=start,
                                    ends_at=start + timedelta(hours=4))
    response = client.post(reverse("escalation:add_override", args=["oncall-sre"]), {
        "starts_at": local(start + timedelta(hours=1)), "ends_at": local(start + timedelta(hours=6)), "tz": "UTC"})
    assert response.status_code == 400
    assert b"This overlaps ann&#x27;s override from" in response.content
    assert RotationOverride.objects.count() == 1


def test_a_member_takes_a_shift_from_the_calendar(client, team):
    client.force_login(team["ann"])
    next_week = (team["monday"] + timedelta(days=7)).isoformat()
    page = client.get(calendar_url(view="week", date=next_week))
    assert b'data-testid="take"' in page.content  # Bob's week: Ann may take it
    start, end = later(0), later(8)
    response = client.post(reverse("escalation:take_shift", args=["oncall-sre"]),
                           {"start": start.isoformat(), "end": end.isoformat()})
    assert response.status_code == 302
    override = RotationOverride.objects.get()
    assert (override.user, override.starts_at, override.ends_at) == (team["ann"], start, end)


def test_a_member_swaps_their_week_for_anothers(client, team):
    ann, bob = team["ann"], team["bob"]
    client.force_login(ann)
    # Bob's week after next; Ann gives her week after that in return.
    bob_start = datetime.combine(team["monday"] + timedelta(days=21), time(0, 0), tzinfo=dt_timezone.utc)
    bob_end = bob_start + timedelta(days=7)
    params = {"start": bob_start.isoformat(), "end": bob_end.isoformat()}
    form = client.get(reverse("escalation:swap_shifts", args=["oncall-sre"]), params)
    assert form.status_code == 200
    choice = form.context["mine"][1].choice  # her second coming week
    response = client.post(reverse("escalation:swap_shifts", args=["oncall-sre"]), {**params, "mine": choice})
    assert response.status_code == 302, response.content[:300]
    held = {o.user.username: (o.starts_at, o.ends_at) for o in RotationOverride.objects.select_related("user")}
    assert held["ann"] == (bob_start, bob_end)
    assert held["bob"] == (bob_start - timedelta(days=7), bob_start)  # her week before his
    assert AuditEntry.objects.filter(action="rotation.shifts_swapped", actor_id=ann.pk).count() == 1


def test_a_swap_of_a_shift_not_offered_is_refused(client, team):
    client.force_login(team["ann"])
    start = datetime.combine(team["monday"] + timedelta(days=21), time(0, 0), tzinfo=dt_timezone.utc)
    response = client.post(reverse("escalation:swap_shifts", args=["oncall-sre"]), {
        "start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat(),
        "mine": "2020-01-08T00:00:00+00:00"})
    assert response.status_code == 400 and not RotationOverride.objects.exists()


def test_a_member_removes_only_their_own_override(client, team, make_user):
    start = later(0)
    own = RotationOverride.objects.create(rotation=team["rotation"], user=team["ann"], starts_at=start,
                                          ends_at=start + timedelta(hours=1))
    other = RotationOverride.objects.create(rotation=team["rotation"], user=team["bob"], starts_at=later(2),
                                            ends_at=later(3))
    client.force_login(team["ann"])
    assert client.post(reverse("escalation:remove_override", args=["oncall-sre", other.pk])).status_code == 403
    assert client.post(reverse("escalation:remove_override", args=["oncall-sre", own.pk])).status_code == 302
    assert list(RotationOverride.objects.all()) == [other]
    auditor = make_user("auditor")
    client.force_login(auditor)
    assert client.post(reverse("escalation:remove_override", args=["oncall-sre", other.pk])).status_code == 403


def test_every_post_needs_the_csrf_token(team):
    client = Client(enforce_csrf_checks=True)
    client.force_login(team["ann"])
    start = later(0)
    posts = {
        "add_override": {"starts_at": local(start), "ends_at": local(start + timedelta(hours=1)), "tz": "UTC"},
        "take_shift": {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()},
        "swap_shifts": {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()},
    }
    for name, data in posts.items():
        assert client.post(reverse(f"escalation:{name}", args=["oncall-sre"]), data).status_code == 403, name
    override = RotationOverride.objects.create(rotation=team["rotation"], user=team["ann"], starts_at=start,
                                               ends_at=start + timedelta(hours=1))
    assert client.post(reverse("escalation:remove_override", args=["oncall-sre", override.pk])).status_code == 403
    assert RotationOverride.objects.count() == 1 and not AuditEntry.objects.filter(action__startswith="rotation.")


def test_a_month_costs_the_same_few_queries_however_many_overrides(client, team, django_assert_max_num_queries):
    for n in range(30):
        start = later(n * 10)
        RotationOverride.objects.create(rotation=team["rotation"], user=team["bob"] if n % 2 else team["ann"],
                                        starts_at=start, ends_at=start + timedelta(hours=2))
    client.force_login(team["ann"])
    # Session, user and permissions, the role and rotation, members, the overrides in view (twice: the
    # month and the list), membership: a fixed number, not one per override or per day.
    with django_assert_max_num_queries(14):
        response = client.get(calendar_url(view="month", date=later(0).date().isoformat()))
    assert response.status_code == 200 and response.content.count(b"shift-override") >= 10


def test_a_member_gives_away_the_rest_of_the_shift_under_way(client, team):
    """Ann's week is under way: offered "from now", and still recognised when the post comes a moment later."""
    client.force_login(team["ann"])
    bob_start = datetime.combine(team["monday"] + timedelta(days=7), time(0, 0), tzinfo=dt_timezone.utc)
    params = {"start": bob_start.isoformat(), "end": (bob_start + timedelta(days=7)).isoformat()}
    form = client.get(reverse("escalation:swap_shifts", args=["oncall-sre"]), params)
    current = form.context["mine"][0]
    assert current.starts_at <= timezone.now() < current.ends_at == bob_start
    response = client.post(reverse("escalation:swap_shifts", args=["oncall-sre"]), {**params, "mine": current.choice})
    assert response.status_code == 302
    assert RotationOverride.objects.get(user=team["bob"]).ends_at == bob_start
