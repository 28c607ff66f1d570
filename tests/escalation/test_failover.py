"""Acceptance, on a real worker with real receivers started here: the on-call
SRE's SMTP server refuses and their chat webhook is down. The failed attempt
shows on the incident page within 5 s; once every method of theirs has failed
the next level (Senior SRE, due in 30 min) is paged within 5 s more; nobody is
paged twice for one level, and the board says what happened."""
import time

import pytest
from django.urls import reverse

from ops_console.escalation import tasks
from ops_console.escalation.models import DeliveryAttempt, Page
from tests.waiting import wait_until

from .conftest import contact, json_url, open_incident


@pytest.mark.integration
def test_all_methods_failing_pages_the_next_level_at_once(celery_worker, no_repeats, smtp, receiver, client_as):
    sre, senior = no_repeats["oncall-sre"], no_repeats["senior-sre"]
    refusing_mail, down_chat, senior_chat = smtp(refuse=True), receiver(*[503] * 20), receiver()
    contact(sre, refusing_mail.url("cho@example.test"))
    contact(sre, json_url(down_chat.url), delay=2)   # "chat after 2 min": goes at once when the e-mail fails
    contact(senior, json_url(senior_chat.url))
    client = client_as("commander")
    incident = open_incident("P1", title="Checkout returns 502")
    deliveries_url = reverse("escalation:incident_deliveries", args=[incident.reference])

    tasks.fire_due_escalations.delay()   # what beat sends every 2 s
    wait_until(lambda: Page.objects.filter(incident=incident, level=1).exists(), 10, message="the first page")
    started = time.monotonic()
    wait_until(lambda: 'data-outcome="failed"' in client.get(deliveries_url).content.decode(), 5,
               message="the failed attempt on the incident page")
    failed_attempt = DeliveryAttempt.objects.filter(delivery__page__incident=incident, outcome="failed").first()
    assert failed_attempt.error

    wait_until(lambda: Page.objects.filter(incident=incident, level=1, failed_at__isnull=False).exists(), 10,
               message="every method of the on-call SRE to fail")
    wait_until(lambda: Page.objects.filter(incident=incident, level=2).exists(), 5,
               message="the next level, paged without waiting its 30 minutes")
    wait_until(lambda: senior_chat.requests, 10, message="the senior SRE's chat")
    print(f"failed attempt visible, then level 2 paged, {time.monotonic() - started:.1f} s after the first page")

    html = client.get(deliveries_url).content.decode()
    assert 'data-testid="all-failed"' in html and html.count('data-outcome="failed"') >= 2
    board = client.get(reverse("incidents:index")).content.decode()
    assert 'data-testid="page-failed"' in board and "every channel failed" in board
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "every channel failed" in page and "Engineering manager" in page   # the next level, by role...
    assert no_repeats["engineering-manager"].username in page                 # ...and by the person it pages

    tasks.fire_due_escalations.delay()   # more ticks page nobody twice
    tasks.fire_due_escalations.delay()
    assert wait_until(lambda: len(senior_chat.requests) == 1, 5, message="one message to the senior SRE")
    levels = list(Page.objects.filter(incident=incident).values_list("level", flat=True))
    assert sorted(levels) == [1, 2]
