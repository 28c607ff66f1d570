"""Acceptance, on a real worker with real receivers started here: the on-call
SRE's SMTP server refuses and their chat webhook is down. The failed attempt
shows on the incident page within 5 s; once every method of theirs has failed
the next level (Senior SRE, due in 30 min) is paged within 5 s more; nobody is
paged twice for one level, and the board says what happened."""
import time
from datetime import timedelta

import pytest
from django.urls import reverse

from ops_console.escalation import engine, tasks
from ops_console.escalation.models import DeliveryAttempt, Page, ScheduledLevel
from ops_console.incidents.models import TimelineEvent
from tests.waiting import wait_until

from .conftest import contact, json_url, open_incident, pages_of, staff_rotation


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


def test_a_page_to_nobody_brings_the_next_level_forward_once(no_repeats, client_as):
    """Nobody holds the on-call SRE role: level 1 fails as it is made, and the senior SRE
    (due in 30 min) is paged at once, exactly once; level 3 keeps its own time."""
    staff_rotation("oncall-sre")  # a rotation without members
    incident = open_incident("P1", title="Checkout returns 502")
    t0 = incident.escalation.started_at
    engine.fire_due(t0)
    engine.fire_due(t0 + timedelta(seconds=2))   # the next ticks page nobody twice
    assert pages_of(incident) == [(1, None), (2, "senior_sre")]
    assert Page.objects.get(incident=incident, level=1).failed_at == t0
    third = ScheduledLevel.objects.get(incident=incident, level=3, round=0)
    assert third.status == "pending" and third.due_at == t0 + timedelta(minutes=60)
    failed = TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.PAGE_FAILED)
    assert [e.message for e in failed] == [
        "Nobody holds the role On-call SRE: no one could be paged for level 1: escalating to level 2 (Senior SRE) "
        f"now, without waiting for {t0 + timedelta(minutes=30):%H:%M:%S UTC}."]
    assert failed[0].data["next_level"] == 2
    board = client_as("commander").get(reverse("incidents:index")).content.decode()
    assert 'data-testid="page-failed"' in board and "nobody (On-call SRE) — nobody holds the role" in board
    page = client_as("commander").get(incident.get_absolute_url()).content.decode()
    assert "nobody holds the role" in page and "no one could be paged for level 1: escalating to level 2" in page
