import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from ops_console.accounts.roles import role_of
from ops_console.audit.models import AuditEntry


def test_login_page_renders_without_login(client, db):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_pages_redirect_to_login_when_signed_out(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_wrong_password_shows_an_error(client, make_user):
    make_user("responder", username="carol")
    response = client.post(reverse("accounts:login"), {"username": "carol", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_login_and_logout(client, make_user):
    make_user("responder", username="dave")
    response = client.post(reverse("accounts:login"), {"username": "dave", "password": "pw-dave-123"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post(reverse("accounts:logout"))
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("role", ["responder", "commander", "auditor"])
def test_forbidden_role_change_gets_403_and_changes_nothing(client_as, make_user, role):
    target = make_user("responder", username="target")
    client = client_as(role)
    before = AuditEntry.objects.count()
    response = client.post(reverse("accounts:set_role", args=[target.pk]), {"role": "admin"})
    assert response.status_code == 403
    target.refresh_from_db()
    assert role_of(target) == "responder" and not target.is_superuser
    assert AuditEntry.objects.count() == before


def test_admin_changes_a_role_and_it_is_audited(client_as, make_user):
    target = make_user("responder", username="target")
    client = client_as("admin")
    response = client.post(reverse("accounts:set_role", args=[target.pk]), {"role": "commander"})
    assert response.status_code == 302
    assert role_of(target) == "commander"
    entry = AuditEntry.objects.get(action="user.role_changed")
    assert entry.before == {"role": "responder"} and entry.after == {"role": "commander"}
    assert entry.actor == client.user


def test_admin_cannot_change_own_role(client_as):
    client = client_as("admin")
    client.post(reverse("accounts:set_role", args=[client.user.pk]), {"role": "auditor"})
    assert client.user.groups.filter(name="admin").exists()


def test_role_change_rejects_unknown_role(client_as, make_user):
    target = make_user("auditor", username="target")
    client = client_as("admin")
    client.post(reverse("accounts:set_role", args=[target.pk]), {"role": "root"})
    assert list(target.groups.values_list("name", flat=True)) == ["auditor"]


def test_role_change_needs_csrf_token(make_user):
    from django.test import Client

    target = make_user("responder", username="target")
    admin = make_user("admin")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(reverse("accounts:set_role", args=[target.pk]), {"role": "admin"})
    assert response.status_code == 403
    assert not Group.objects.get(name="admin").user_set.filter(pk=target.pk).exists()
