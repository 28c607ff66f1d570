"""Personal API tokens: the page under the account, shown once, hashed, expiring,
revocable (own; anyone's for the admin), each change audited."""
import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from ops_console.accounts.models import PersonalToken
from ops_console.accounts.tokens import do_create_api_token
from ops_console.audit.models import AuditEntry
from ops_console.incidents.models import hash_token

PAGE = "/accounts/tokens/"


def in_days(n):
    return (timezone.localdate() + dt.timedelta(days=n)).isoformat()


@pytest.mark.parametrize("role", ["responder", "commander", "auditor", "admin"])
def test_every_role_makes_its_own_token_shown_once(client_as, role):
    client = client_as(role)
    response = client.post(PAGE, {"name": "deploy-pipeline", "scope": "read-write", "expires_on": in_days(30)})
    assert response.status_code == 200
    raw = re.search(r'data-testid="new-token">([^<]+)<', response.content.decode()).group(1)
    token = PersonalToken.objects.get()
    assert token.user == client.user and token.scope == "read-write" and raw.startswith("ocp_")
    assert token.token_hash == hash_token(raw) and raw not in str(PersonalToken.objects.values().get())
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    again = client.get(PAGE).content.decode()
    assert raw not in again and token.prefix in again
    entry = AuditEntry.objects.get(action="apitoken.personal_created")
    assert entry.actor == client.user and entry.after["scope"] == "read-write" and raw not in str(entry.after)


def test_no_role_no_tokens(client_as):
    client = client_as(None)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"name": "x", "scope": "read", "expires_on": in_days(3)}).status_code == 403
    assert not PersonalToken.objects.exists()


@pytest.mark.parametrize("expires_on, error", [
    ("", "This field is required."), (in_days(0), "Choose a day after today."),
    (in_days(-3), "Choose a day after today."),
    (in_days(400), "At most 365 days from today."),
])
def test_expiry_required_and_bounded(client_as, expires_on, error):
    response = client_as("responder").post(PAGE, {"name": "x", "scope": "read", "expires_on": expires_on})
    assert error in response.content.decode() and not PersonalToken.objects.exists()


def test_the_action_refuses_a_lifetime_over_the_maximum(make_user):
    user = make_user("responder")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        do_create_api_token(user, name="x", scope="read", expires_at=timezone.now() + dt.timedelta(days=500),
                            acting_user=user)
    with pytest.raises(ValidationError):
        do_create_api_token(user, name="x", scope="admin", expires_at=timezone.now() + dt.timedelta(days=5),
                            acting_user=user)


def _token(user, name="t"):
    return do_create_api_token(user, name=name, scope="read", expires_at=timezone.now() + dt.timedelta(days=5),
                               acting_user=user)[0]


def test_revoke_own_token(client_as):
    client = client_as("responder")
    token = _token(client.user)
    assert client.get(reverse("accounts:revoke_api_token", args=[token.pk])).status_code == 405
    response = client.post(reverse("accounts:revoke_api_token", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.state == "revoked"
    entry = AuditEntry.objects.get(action="apitoken.personal_revoked")
    assert entry.actor == client.user
    assert 'data-confirm="Revoke' not in client.get(PAGE).content.decode()  # nothing left to revoke


@pytest.mark.parametrize("role, allowed", [("responder", False), ("commander", False), ("auditor", False),
                                           ("admin", True)])
def test_only_the_admin_revokes_anyone(client_as, make_user, role, allowed):
    other = _token(make_user("responder", username="owner"))
    client = client_as(role)
    response = client.post(reverse("accounts:revoke_api_token", args=[other.pk]))
    other.refresh_from_db()
    assert response.status_code == (302 if allowed else 403)
    assert (other.revoked_at is not None) == allowed


@pytest.mark.parametrize("role, sees", [("responder", False), ("commander", False), ("auditor", True),
                                        ("admin", True)])
def test_who_sees_everyones_tokens(client_as, make_user, role, sees):
    _token(make_user("responder", username="owner"), name="owners-token")
    page = client_as(role).get(PAGE).content.decode()
    assert ("owners-token" in page) == sees


def test_csrf_holds_on_the_page(client_as):
    client = client_as("responder")
    client.handler.enforce_csrf_checks = True
    response = client.post(PAGE, {"name": "x", "scope": "read", "expires_on": in_days(3)})
    assert response.status_code == 403 and not PersonalToken.objects.exists()


def test_the_migration_matches_the_model(db):
    import io

    from django.core.management import call_command

    call_command("makemigrations", "accounts", check=True, dry_run=True, stdout=io.StringIO())
