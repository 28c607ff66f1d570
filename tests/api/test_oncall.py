"""/api/v1/oncall: who holds each role now and next, per role of the caller."""
import datetime as dt

import pytest

from ops_console.escalation.models import ResponseRole, Rotation, RotationMember

from .conftest import ROLES


@pytest.mark.parametrize("role", [*ROLES, None])
def test_oncall_per_role(api_as, make_user, role):
    sre = ResponseRole.objects.create(slug="api-sre", name="API SRE")
    rotation = Rotation.objects.create(role=sre, starts_on=dt.date(2020, 1, 1))
    alice, bob = make_user("responder", username="alice"), make_user("responder", username="bob")
    RotationMember.objects.create(rotation=rotation, user=alice, position=0)
    RotationMember.objects.create(rotation=rotation, user=bob, position=1)
    response = api_as(role).get("/api/v1/oncall")
    if role is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    row = next(r for r in response.json()["roles"] if r["role"] == "api-sre")
    assert {row["now"], row["next"]} == {"alice", "bob"}
    assert row["now_until"] == row["next_from"] and row["has_rotation"] is True
