"""The API token page: a new token is on it once, and no cache may keep a copy."""
from django.urls import reverse

from ops_console.incidents.models import ApiToken


def no_store(response):
    return "no-store" in response.get("Cache-Control", "")


def test_the_page_with_a_new_token_is_never_stored(client_as):
    client = client_as("admin")
    response = client.post(reverse("incidents:tokens"), {"name": "am"})
    assert response.status_code == 200 and response.context["new_raw"]
    assert no_store(response) and "private" in response["Cache-Control"]
    assert response["Expires"]  # in the past
    assert no_store(client.get(reverse("incidents:tokens")))
    assert ApiToken.objects.count() == 1


def test_the_token_list_is_never_stored_for_auditors_either(client_as):
    response = client_as("auditor").get(reverse("incidents:tokens"))
    assert response.status_code == 200 and no_store(response)
