"""The failed sign-ins page: what axes kept, for auditors and admins only."""
import pytest
from django.test import Client
from django.urls import reverse

URL = reverse("audit:failed_sign_ins")


def fail_sign_in(username, address):
    Client(REMOTE_ADDR=address).post(reverse("accounts:login"), {"username": username, "password": "wrong"})


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_failed_sign_ins_are_listed_newest_first_and_filtered(client_as, role):
    fail_sign_in("mallory", "203.0.113.7")
    fail_sign_in("carol", "198.51.100.2")
    client = client_as(role)
    page = client.get(URL).content.decode()
    assert page.index("carol") < page.index("mallory") and "203.0.113.7" in page
    by_name = client.get(URL, {"username": "mallory"}).content.decode()
    assert "mallory" in by_name and "198.51.100.2" not in by_name
    by_address = client.get(URL, {"ip": "198.51.100.2"}).content.decode()
    assert "carol" in by_address and "203.0.113.7" not in by_address
    assert "No failed sign-ins match this filter" in client.get(URL, {"username": "nobody"}).content.decode()


def test_a_name_tried_is_shown_as_text_not_markup(client_as):
    fail_sign_in("<script>alert(1)</script>", "203.0.113.9")
    page = client_as("auditor").get(URL).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


@pytest.mark.parametrize("role", ["responder", "commander", None])
def test_others_may_not_read_failed_sign_ins(client_as, client, make_user, role):
    if role is None:
        client.force_login(make_user(None))
    else:
        client = client_as(role)
    assert client.get(URL).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
