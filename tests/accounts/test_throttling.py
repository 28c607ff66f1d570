"""Sign-in throttling (django-axes): lockouts per username and per client address,
our lockout page, the audit entries, an admin lifting a lock, and the bearer-token API untouched."""
from datetime import timedelta

from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from tests.incidents.conftest import AM_URL, am_payload, api_token, post_json  # noqa: F401 (fixtures)

LOGIN = reverse("accounts:login")


def sign_in(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def fail(client, username, times, **extra):
    return [sign_in(client, username, "wrong-password", **extra) for _ in range(times)]


def test_fifth_failure_locks_and_the_sixth_and_the_right_password_are_refused(client, make_user, settings):
    make_user("responder", username="carol")
    answers = fail(client, "carol", 5)
    assert [r.status_code for r in answers[:4]] == [200] * 4
    assert all(b"didn't match" in r.content for r in answers[:4])

    sixth = sign_in(client, "carol", "wrong-password")
    right = sign_in(client, "carol", "pw-carol-123")
    for response in (answers[4], sixth, right):
        assert response.status_code == 429
        assert b"signing in is locked until" in response.content
        assert b"<time datetime=" in response.content  # when it ends, in the viewer's zone
        assert b'name="password"' not in response.content
    assert client.get("/").status_code == 302  # not signed in

    locked = AuditEntry.objects.get(action="auth.locked_out")
    assert locked.object_repr == "carol" and locked.ip == "127.0.0.1"
    assert locked.after == {"username": "carol", "ip": "127.0.0.1", "failures": 5, "cooloff_minutes": 15}
    # Every refused attempt, the right password too, is a failed sign-in kept by axes (not chained).
    assert AccessFailureLog.objects.filter(username="carol").count() == 7
    assert not AuditEntry.objects.filter(action="auth.login_failed").exists()


def test_the_lock_ends_after_the_cooloff(client, make_user, settings):
    make_user("responder", username="carol")
    fail(client, "carol", 5)
    assert sign_in(client, "carol", "pw-carol-123").status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time
                                 - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert sign_in(client, "carol", "pw-carol-123").status_code == 302


def test_an_admin_lifts_the_lock_in_the_admin_and_it_is_audited(client_as, make_user):
    make_user("responder", username="carol")
    visitor = Client()
    fail(visitor, "carol", 5)
    admin = client_as("admin")
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert b"carol" in admin.get(changelist).content
    response = admin.post(changelist, {"action": "delete_selected", "post": "yes",
                                       "_selected_action": list(AccessAttempt.objects.values_list("pk", flat=True))})
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    lifted = AuditEntry.objects.get(action="auth.lockout_lifted")
    assert lifted.actor == admin.user and lifted.object_repr == "carol"
    assert lifted.before["failures"] == 5
    assert sign_in(visitor, "carol", "pw-carol-123").status_code == 302


def test_locks_are_per_username_and_per_address(client, make_user):
    make_user("responder", username="carol")
    make_user("responder", username="dave")
    fail(client, "carol", 5, REMOTE_ADDR="10.0.0.1")
    # The account is locked from every address, and the address for every account...
    assert sign_in(client, "carol", "pw-carol-123", REMOTE_ADDR="10.0.0.9").status_code == 429
    assert sign_in(client, "dave", "pw-dave-123", REMOTE_ADDR="10.0.0.1").status_code == 429
    # ...but another account from another address signs in.
    assert sign_in(client, "dave", "pw-dave-123", REMOTE_ADDR="10.0.0.2").status_code == 302


def test_behind_a_proxy_the_forwarded_address_is_the_one_locked(client, make_user, settings):
    settings.USE_X_FORWARDED_FOR = True
    make_user("responder", username="carol")
    make_user("responder", username="dave")
    make_user("responder", username="erin")
    fail(client, "carol", 5, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert AuditEntry.objects.get(action="auth.locked_out").ip == "203.0.113.7"
    assert sign_in(client, "dave", "pw-dave-123", REMOTE_ADDR="10.0.0.1",
                   HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    # The balancer's address is shared by everyone: it is not what gets locked.
    assert sign_in(client, "erin", "pw-erin-123", REMOTE_ADDR="10.0.0.1",
                   HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302


def test_bearer_token_api_calls_are_not_throttled(client, make_user, post_json):
    make_user("responder", username="carol")
    fail(client, "carol", 6)
    assert sign_in(client, "carol", "pw-carol-123").status_code == 429
    response = post_json(AM_URL, am_payload())
    assert response.status_code == 200, response.content
    assert response.json()["opened"] == 1
    assert post_json(AM_URL, am_payload(), token="oc_wrong").status_code == 401
    assert post_json(AM_URL, am_payload()).status_code == 200

