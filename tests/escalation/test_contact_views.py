"""One's own contact methods (Apprise URLs) per role, their validation, their
secrets masked on every page, and the incident's polled list of deliveries."""
import pytest
from django.test import Client
from django.urls import reverse

from ops_console.audit.models import AuditEntry
from ops_console.escalation import engine, notify
from ops_console.escalation.models import ContactMethod, Page

from .conftest import contact, json_url, open_incident

SECRET_MAIL = "mailto://alerts:Sup3rS3cret@smtp.example.test?to=me@example.test"
SECRET_HOOK = "jsons://hooks.example.test/hook/T0k3nT0k3nT0k3n99?+Authorization=Bearer%20abcdef123"


@pytest.mark.parametrize("role", ["admin", "commander", "responder"])
def test_people_who_page_manage_their_own_methods(client_as, role):
    client = client_as(role)
    assert client.get(reverse("escalation:contact_methods")).status_code == 200
    response = client.post(reverse("escalation:add_contact_method"),
                           {"url": SECRET_MAIL, "label": "work mail", "delay_minutes": 0})
    assert response.status_code == 302
    method = ContactMethod.objects.get(user=client.user)
    assert method.url == SECRET_MAIL
    entry = AuditEntry.objects.get(action="contact_method.added")
    assert "Sup3rS3cret" not in str(entry.after) and "****" in entry.after["url"]


def test_an_auditor_sees_the_page_but_changes_nothing(client_as):
    client = client_as("auditor")
    assert client.get(reverse("escalation:contact_methods")).status_code == 200
    assert client.post(reverse("escalation:add_contact_method"), {"url": SECRET_MAIL, "delay_minutes": 0}
                       ).status_code == 403
    assert not ContactMethod.objects.exists()


def test_anonymous_is_sent_to_sign_in(client, db):
    response = client.get(reverse("escalation:contact_methods"))
    assert response.status_code == 302 and "login" in response["Location"]
    assert client.post(reverse("escalation:add_contact_method"), {"url": SECRET_MAIL}).status_code in (302, 403)
    assert not ContactMethod.objects.exists()


def test_a_post_without_the_csrf_token_is_refused(make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("responder"))
    assert client.post(reverse("escalation:add_contact_method"), {"url": SECRET_MAIL}).status_code == 403


@pytest.mark.parametrize("url", ["https://hooks.example.test/x", "not a url", "mailto://", "json://"])
def test_a_url_apprise_cannot_read_is_a_form_error_naming_the_field(client_as, url):
    client = client_as("responder")
    response = client.post(reverse("escalation:add_contact_method"), {"url": url, "delay_minutes": 0})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["url"] and "Apprise" in errors["url"][0]
    assert b"Apprise URL" in response.content   # the field's label, beside its error
    assert not ContactMethod.objects.exists()


def test_secrets_are_masked_on_every_page(client_as, on_call):
    client = client_as("admin")
    for url in (SECRET_MAIL, SECRET_HOOK):
        contact(client.user, url)
        contact(on_call["oncall-sre"], url)
    incident = open_incident("P1")
    engine.fire_due(incident.escalation.started_at)
    delivery = Page.objects.get(incident=incident).deliveries.first()
    pages = [reverse("escalation:contact_methods"), incident.get_absolute_url(),
             reverse("escalation:incident_deliveries", args=[incident.reference]), reverse("incidents:index"),
             reverse("admin:escalation_contactmethod_changelist"), reverse("admin:escalation_delivery_changelist"),
             reverse("admin:escalation_delivery_change", args=[delivery.pk]),
             reverse("admin:escalation_contactmethod_change", args=[ContactMethod.objects.first().pk])]
    for url in pages:
        html = client.get(url).content.decode()
        for secret in ("Sup3rS3cret", "T0k3nT0k3nT0k3n99", "abcdef123"):
            assert secret not in html, (url, secret)
    assert "alerts:****@smtp.example.test" in client.get(reverse("escalation:contact_methods")).content.decode()


def test_order_delay_and_removal(client_as):
    client = client_as("responder")
    first = contact(client.user, SECRET_MAIL, position=0)
    second = contact(client.user, SECRET_HOOK, position=1)
    client.post(reverse("escalation:move_contact_method", args=[second.pk]), {"direction": "up"})
    assert list(ContactMethod.objects.order_by("position").values_list("pk", flat=True)) == [second.pk, first.pk]
    client.post(reverse("escalation:change_contact_method", args=[first.pk]),
                {f"m{first.pk}-delay_minutes": 2, f"m{first.pk}-enabled": "on"})
    assert ContactMethod.objects.get(pk=first.pk).delay_minutes == 2
    client.post(reverse("escalation:delete_contact_method", args=[second.pk]))
    assert list(ContactMethod.objects.values_list("pk", flat=True)) == [first.pk]


def test_nobody_changes_someone_elses_method(client_as, make_user):
    theirs = contact(make_user("responder"), SECRET_MAIL)
    client = client_as("commander")
    assert client.post(reverse("escalation:delete_contact_method", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("escalation:change_contact_method", args=[theirs.pk]),
                       {f"m{theirs.pk}-delay_minutes": 9}).status_code == 404
    assert ContactMethod.objects.get(pk=theirs.pk).delay_minutes == 0


@pytest.mark.parametrize("role,status", [("admin", 200), ("commander", 200), ("responder", 200), ("auditor", 200)])
def test_the_deliveries_partial_per_role(client_as, on_call, receiver, role, status):
    hook = receiver(503)
    contact(on_call["oncall-sre"], json_url(hook.url))
    incident = open_incident("P1")
    engine.fire_due(incident.escalation.started_at)
    notify.deliver(Page.objects.get(incident=incident).deliveries.get().pk)
    response = client_as(role).get(reverse("escalation:incident_deliveries", args=[incident.reference]))
    assert response.status_code == status
    html = response.content.decode()
    assert 'data-outcome="failed"' in html and "next try at" in html and "JSON:" in html


def test_the_deliveries_partial_is_not_for_anonymous(client, on_call):
    incident = open_incident("P1")
    response = client.get(reverse("escalation:incident_deliveries", args=[incident.reference]))
    assert response.status_code == 302
