"""Bearer personal tokens: missing, unknown, expired, revoked, inactive user,
read scope writing, a session cookie alone; the one error shape."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ops_console.accounts.models import PersonalToken
from ops_console.accounts.tokens import do_revoke_api_token
from ops_console.incidents.intake_config import do_create_token
from ops_console.incidents.models import Incident

from .conftest import ApiClient, error_of
from tests.incidents.conftest import open_incident


@pytest.mark.parametrize("raw", [None, "", "ocp_unknown", "oc_not-a-personal-token"])
def test_without_a_valid_token_401(db, raw):
    response = ApiClient(raw).get("/api/v1/incidents")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert error_of(response)[0] == "unauthenticated"


def test_an_integration_token_is_not_a_personal_token(db, make_user):
    _, raw = do_create_token("alertmanager", acting_user=make_user("admin"))
    assert ApiClient(raw).get("/api/v1/incidents").status_code == 401


def test_expired_token_401(api_as):
    api = api_as("commander")
    PersonalToken.objects.filter(pk=api.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get("/api/v1/incidents").status_code == 401


def test_revoked_token_401(api_as):
    api = api_as("commander")
    assert api.get("/api/v1/incidents").status_code == 200
    do_revoke_api_token(api.token, acting_user=api.user)
    assert api.get("/api/v1/incidents").status_code == 401


def test_inactive_user_401(api_as):
    api = api_as("commander")
    api.user.is_active = False
    api.user.save(update_fields=["is_active"])
    assert api.get("/api/v1/incidents").status_code == 401


def test_a_session_alone_is_not_enough(client_as):
    """Bearer only: a signed-in browser's cookie opens nothing on the API (so CSRF cannot ride on it)."""
    client = client_as("admin")
    assert client.get("/api/v1/incidents").status_code == 401
    assert client.post("/api/v1/incidents", {"title": "x", "severity": "P1"},
                       content_type="application/json").status_code == 401
    assert not Incident.objects.exists()


def test_a_token_without_csrf_may_write(api_as):
    """Bearer requests need no CSRF token (Django's test client would check it with enforce_csrf_checks)."""
    api = api_as("commander")
    api.client.handler.enforce_csrf_checks = True
    assert api.post("/api/v1/incidents", {"title": "From a script", "severity": "P2"}).status_code == 201


def test_read_token_cannot_write(api_as):
    api = api_as("admin", scope="read")
    incident = open_incident()
    assert api.get(f"/api/v1/incidents/{incident.reference}").status_code == 200
    response = api.post(f"/api/v1/incidents/{incident.reference}/acknowledge")
    assert response.status_code == 403
    assert error_of(response)[0] == "scope"
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_use_is_recorded(api_as):
    api = api_as("responder")
    assert api.token.last_used_at is None
    before = timezone.now().replace(microsecond=0)
    api.get("/api/v1/incidents")
    api.token.refresh_from_db()
    assert before <= api.token.last_used_at <= timezone.now() and api.token.last_used_at.microsecond == 0


def token_writes(api, path="/api/v1/incidents"):
    """The UPDATEs of the token's row one request makes."""
    with CaptureQueriesContext(connection) as queries:
        assert api.get(path).status_code == 200
    return [q["sql"] for q in queries.captured_queries
            if q["sql"].startswith("UPDATE") and PersonalToken._meta.db_table in q["sql"]]


def test_last_use_is_kept_to_the_second_without_a_write_per_request(api_as):
    """A use 1.5 s after the last is recorded (it was not, to the minute); another in the
    same second as the recorded one writes nothing."""
    api = api_as("responder")
    earlier = timezone.now().replace(microsecond=0) - timedelta(seconds=1.5)
    PersonalToken.objects.filter(pk=api.token.pk).update(last_used_at=earlier)
    assert len(token_writes(api)) == 1
    api.token.refresh_from_db()
    recorded = api.token.last_used_at
    assert recorded > earlier and timezone.now() - recorded < timedelta(seconds=1)
    # Pretend the last use is already this second (or one a clock a little ahead wrote): no UPDATE.
    PersonalToken.objects.filter(pk=api.token.pk).update(last_used_at=timezone.now().replace(microsecond=0)
                                                         + timedelta(seconds=5))
    assert token_writes(api) == []


def test_error_shape_for_each_status(api_as):
    api = api_as("commander")
    incident = open_incident()
    cases = [
        (api.get("/api/v1/incidents/INC-999999"), 404, "not_found"),
        (api.post("/api/v1/incidents", {"severity": "P1"}), 422, "invalid"),
        (api.post("/api/v1/incidents", {"title": "x", "severity": "P9"}), 400, "bad_request"),
        (api_as(None).get("/api/v1/incidents"), 403, "forbidden"),
        (ApiClient(None).get("/api/v1/incidents"), 401, "unauthenticated"),
    ]
    api.post(f"/api/v1/incidents/{incident.reference}/acknowledge")
    cases.append((api.post(f"/api/v1/incidents/{incident.reference}/acknowledge"), 409, "conflict"))
    for response, status, code in cases:
        assert response.status_code == status, response.content
        assert error_of(response)[0] == code
    wrong_method = api.get(f"/api/v1/incidents/{incident.reference}/acknowledge")
    assert wrong_method.status_code == 405 and error_of(wrong_method)[2] == {"allowed": ["POST"]}
    details = error_of(cases[1][0])[2]
    assert {"field": "title", "reason": "Field required"} in details
