"""Admin → Personal API tokens: everyone's tokens with their use, never the hash or
the secret; a revoke action, audited; no form that would make or change a token."""
import datetime as dt

import pytest
from django.utils import timezone

from ops_console.accounts.models import PersonalToken
from ops_console.accounts.tokens import do_create_api_token
from ops_console.audit.models import AuditEntry

LIST = "/admin/accounts/personaltoken/"


def token_of(user, name="deploy-pipeline", scope="read-write"):
    return do_create_api_token(user, name=name, scope=scope, expires_at=timezone.now() + dt.timedelta(days=30),
                               acting_user=user)


def test_the_list_shows_each_token_and_never_its_secret(client_as, make_user):
    owner = make_user("responder", username="rita")
    token, raw = token_of(owner)
    PersonalToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    client = client_as("admin")
    response = client.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    for column in ("User", "Name", "Scope", "Created at", "Expires at", "Last used at", "Revoked at"):
        assert column in html, column
    assert "rita" in html and "deploy-pipeline" in html and token.prefix in html
    assert token.token_hash not in html and raw not in html
    detail = client.get(f"{LIST}{token.pk}/change/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "deploy-pipeline" in text and token.token_hash not in text and raw not in text
    assert 'name="name"' not in text and 'type="submit" value="Save"' not in text  # read only


def test_no_add_change_or_delete(client_as, make_user):
    token, _ = token_of(make_user("responder"))
    client = client_as("admin")
    assert client.get(f"{LIST}add/").status_code == 403
    assert client.post(f"{LIST}add/", {"name": "x", "scope": "read-write"}).status_code == 403
    client.post(f"{LIST}{token.pk}/change/", {"name": "renamed", "scope": "read"})
    assert client.get(f"{LIST}{token.pk}/delete/").status_code == 403
    token.refresh_from_db()
    assert (token.name, token.scope, PersonalToken.objects.count()) == ("deploy-pipeline", "read-write", 1)


def test_revoke_action_is_audited_and_skips_the_revoked(client_as, make_user):
    owner = make_user("commander")
    a, _ = token_of(owner, "a")
    b, _ = token_of(owner, "b")
    client = client_as("admin")
    response = client.post(LIST, {"action": "revoke", "_selected_action": [a.pk]}, follow=True)
    assert response.status_code == 200 and "Revoked 1 token" in response.content.decode()
    response = client.post(LIST, {"action": "revoke", "_selected_action": [a.pk, b.pk]}, follow=True)
    assert "Revoked 1 token" in response.content.decode()
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.revoked_at and b.revoked_at
    entries = AuditEntry.objects.filter(action="apitoken.personal_revoked").order_by("id")
    assert [(e.object_id, e.actor) for e in entries] == [(str(a.pk), client.user), (str(b.pk), client.user)]


def test_the_revoked_token_opens_nothing(client_as, make_user):
    from tests.api.conftest import ApiClient

    token, raw = token_of(make_user("commander"))
    assert ApiClient(raw).get("/api/v1/incidents").status_code == 200
    client_as("admin").post(LIST, {"action": "revoke", "_selected_action": [token.pk]})
    assert ApiClient(raw).get("/api/v1/incidents").status_code == 401


@pytest.mark.parametrize("role", ["responder", "commander", "auditor", None])
def test_only_admins_reach_it(client, make_user, role):
    token, _ = token_of(make_user("responder"))
    if role:
        client.force_login(make_user(role))
    assert client.get(LIST).status_code == 302  # the admin's sign-in: only staff enter
    response = client.post(LIST, {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None
