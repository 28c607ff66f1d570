"""/api/v1/oncall/{role}/overrides through HTTP: listed for whoever sees the on-call
board; added and removed as on the rotation calendar (a member for themselves,
commanders and admins for anyone), with the page's audit entries."""
import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ops_console.audit.models import AuditEntry
from ops_console.escalation.models import ResponseRole, Rotation, RotationMember, RotationOverride

from .conftest import ROLES, error_of


def rotation_with_override(slug="api-sre"):
    """A role whose rotation has alice, and an override by bob for the next two hours."""
    User = get_user_model()
    alice = User.objects.get_or_create(username="alice")[0]
    bob = User.objects.get_or_create(username="bob")[0]
    role = ResponseRole.objects.get_or_create(slug=slug, defaults={"name": "API SRE"})[0]
    rotation = Rotation.objects.get_or_create(role=role, defaults={"starts_on": dt.date(2020, 1, 6)})[0]
    RotationMember.objects.get_or_create(rotation=rotation, position=0, defaults={"user": alice})
    now = timezone.now().replace(microsecond=0)
    return RotationOverride.objects.create(rotation=rotation, user=bob, starts_at=now,
                                           ends_at=now + dt.timedelta(hours=2), reason="swap")


def body(hours=(3, 5), user="bob", reason="holiday"):
    now = timezone.now()
    return {"user": user, "starts_at": (now + dt.timedelta(hours=hours[0])).isoformat(),
            "ends_at": (now + dt.timedelta(hours=hours[1])).isoformat(), "reason": reason}


@pytest.mark.parametrize("role", [*ROLES, None])
def test_list_per_role(api_as, role):
    override = rotation_with_override()
    response = api_as(role).get("/api/v1/oncall/api-sre/overrides")
    if role is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None and len(body["items"]) == 1
    item = body["items"][0]
    assert {k: item[k] for k in ("id", "role", "user", "reason")} == {"id": override.pk, "role": "api-sre",
                                                                       "user": "bob", "reason": "swap"}
    assert parse_datetime(item["starts_at"]) == override.starts_at  # the builder's are to the second
    assert parse_datetime(item["ends_at"]) == override.ends_at and parse_datetime(item["created_at"])


@pytest.mark.parametrize("role", ROLES)
def test_add_and_remove_for_someone_else_per_role(api_as, role):
    override = rotation_with_override()
    api = api_as(role)
    before = AuditEntry.objects.count()
    added = api.post("/api/v1/oncall/api-sre/overrides", body(user="alice"))
    removed = api.delete(f"/api/v1/oncall/api-sre/overrides/{override.pk}")  # bob's
    if role in ("commander", "admin"):
        assert added.status_code == 201, added.content
        assert added.json()["user"] == "alice" and added.json()["reason"] == "holiday"
        assert removed.status_code == 204 and removed.content == b""
        assert set(RotationOverride.objects.values_list("pk", flat=True)) == {added.json()["id"]}
        assert list(AuditEntry.objects.order_by("-id").values_list("action", flat=True)[:2]) == [
            "rotation.override_removed", "rotation.override_added"]
    else:
        assert added.status_code == 403 and removed.status_code == 403
        assert error_of(added)[0] == "forbidden"
        assert list(RotationOverride.objects.values_list("pk", flat=True)) == [override.pk]
        assert AuditEntry.objects.count() == before


def test_a_member_takes_and_gives_back_a_shift_of_their_own(api_as, make_user):
    override = rotation_with_override()
    member = make_user("responder", username="rhea")
    RotationMember.objects.create(rotation=override.rotation, user=member, position=1)
    api = api_as(None, user=member)
    taken = api.post("/api/v1/oncall/api-sre/overrides", body(hours=(3, 4), user=""))
    assert taken.status_code == 201, taken.content
    assert taken.json()["user"] == "rhea"
    assert api.delete(f"/api/v1/oncall/api-sre/overrides/{override.pk}").status_code == 403  # bob's, not hers
    assert api.delete(f"/api/v1/oncall/api-sre/overrides/{taken.json()['id']}").status_code == 204
    outsider = api_as("responder")
    refused = outsider.post("/api/v1/oncall/api-sre/overrides", body(hours=(3, 4), user=""))
    assert refused.status_code == 403 and "yourself" in error_of(refused)[1]
    assert list(RotationOverride.objects.values_list("pk", flat=True)) == [override.pk]


def test_the_audit_entries_equal_the_page(client_as, api_as):
    """The API calls the calendar page's do_* functions: the same entries, whoever wrote them."""
    rotation_with_override()
    client = client_as("commander")
    api = api_as(None, user=client.user)
    start = (timezone.now() + dt.timedelta(hours=5)).replace(second=0, microsecond=0)
    end = start + dt.timedelta(hours=1)
    client.post(reverse("escalation:add_override", args=["api-sre"]),
                {"username": "bob", "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
                 "ends_at": end.strftime("%Y-%m-%dT%H:%M"), "reason": "swap", "tz": "UTC"})
    page_added, made = AuditEntry.objects.order_by("-id").first(), RotationOverride.objects.order_by("-id")[0]
    client.post(reverse("escalation:remove_override", args=["api-sre", made.pk]))
    page_removed = AuditEntry.objects.order_by("-id").first()
    added = api.post("/api/v1/oncall/api-sre/overrides", {"user": "bob", "starts_at": start.isoformat(),
                                                          "ends_at": end.isoformat(), "reason": "swap"})
    assert added.status_code == 201, added.content
    api_added = AuditEntry.objects.order_by("-id").first()
    assert api.delete(f"/api/v1/oncall/api-sre/overrides/{added.json()['id']}").status_code == 204
    api_removed = AuditEntry.objects.order_by("-id").first()
    assert page_added.action == api_added.action == "rotation.override_added"
    assert page_removed.action == api_removed.action == "rotation.override_removed"
    for by_page, by_api in ((page_added, api_added), (page_removed, api_removed)):
        assert (by_api.object_type, by_api.object_id, by_api.actor_id, by_api.before, by_api.after) == \
            (by_page.object_type, by_page.object_id, by_page.actor_id, by_page.before, by_page.after)


def test_bad_input(api_as, make_user):
    rotation_with_override()
    make_user("responder", username="carol", is_active=False)
    api = api_as("admin")
    url = "/api/v1/oncall/api-sre/overrides"
    overlap = api.post(url, body(hours=(1, 3)))  # bob's runs for two hours from now
    assert overlap.status_code == 409 and "overlaps" in error_of(overlap)[1]
    backwards = api.post(url, body(hours=(5, 4)))
    assert backwards.status_code == 400 and error_of(backwards)[2] == {"field": "ends_at"}
    for name in ("nobody", "carol"):
        unknown = api.post(url, body(hours=(5, 6), user=name))
        assert unknown.status_code == 400 and error_of(unknown)[2] == {"field": "user"}
    assert api.post(url, {"user": "bob"}).status_code == 422
    assert api.post(url, body(hours=(5, 6), reason="x" * 201)).status_code == 422
    assert api.post("/api/v1/oncall/no-such-role/overrides", body(hours=(5, 6))).status_code == 404
    assert api.delete("/api/v1/oncall/api-sre/overrides/999999").status_code == 404
    ResponseRole.objects.create(slug="dba", name="DBA")
    no_rotation = api.post("/api/v1/oncall/dba/overrides", body(hours=(5, 6)))
    assert no_rotation.status_code == 409 and error_of(no_rotation)[0] == "conflict"
    assert RotationOverride.objects.count() == 1


def test_a_time_without_a_zone_is_utc_and_past_ones_are_listed_on_request(api_as):
    override = rotation_with_override()
    api = api_as("admin")
    start = (timezone.now() + dt.timedelta(days=1)).replace(microsecond=0)
    naive = start.astimezone(dt.UTC).replace(tzinfo=None)
    response = api.post("/api/v1/oncall/api-sre/overrides", {"user": "alice", "starts_at": naive.isoformat(),
                                                              "ends_at": (naive + dt.timedelta(hours=1)).isoformat()})
    assert response.status_code == 201
    assert RotationOverride.objects.get(pk=response.json()["id"]).starts_at == start
    RotationOverride.objects.filter(pk=override.pk).update(starts_at=start - dt.timedelta(days=3),
                                                           ends_at=start - dt.timedelta(days=2))
    current = [o["id"] for o in api.get("/api/v1/oncall/api-sre/overrides").json()["items"]]
    everything = [o["id"] for o in api.get("/api/v1/oncall/api-sre/overrides", {"past": "true"}).json()["items"]]
    assert current == [response.json()["id"]] and everything == [response.json()["id"], override.pk]
    first = api.get("/api/v1/oncall/api-sre/overrides", {"past": "true", "limit": 1}).json()
    second = api.get("/api/v1/oncall/api-sre/overrides", {"past": "true", "limit": 1, "cursor": first["next"]}).json()
    assert [o["id"] for o in first["items"] + second["items"]] == everything and second["next"] is None
