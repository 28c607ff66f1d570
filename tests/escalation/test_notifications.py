"""Deliveries: e-mail through Django's locmem backend, webhooks against a tiny
local HTTP server that records what it was sent, retries with back-off."""
from datetime import timedelta

from django.core import mail

from ops_console.escalation import channels, engine, notify
from ops_console.escalation.models import ContactMethod, Delivery, Page
from ops_console.incidents.models import TimelineEvent

from .conftest import open_incident


def paged(on_call, code="P1"):
    """Open an incident and fire its first level: returns (incident, page, its deliveries by channel)."""
    incident = open_incident(code)
    engine.fire_due(incident.escalation.started_at)
    page = Page.objects.get(incident=incident)
    return incident, page, {d.channel: d for d in page.deliveries.all()}


def test_email_page_says_what_and_links_the_acknowledgement(on_call):
    incident, page, deliveries = paged(on_call)
    assert list(deliveries) == ["email"] and mail.outbox == []  # the engine itself sends nothing
    notify.deliver(deliveries["email"].pk)
    [message] = mail.outbox
    assert message.to == ["oncall_sre@example.test"]
    assert message.subject == f"[P1] {incident.reference} Error rate above SLO"
    assert "You are paged as On-call SRE (level 1)" in message.body
    assert "/ack/" in message.body and incident.get_absolute_url() in message.body
    assert Delivery.objects.get(pk=deliveries["email"].pk).status == "delivered"
    assert TimelineEvent.objects.filter(incident=incident, kind="page_delivered").count() == 1


def test_webhook_gets_json_and_a_failure_is_retried_with_backoff(on_call, receiver):
    hook = receiver(503)
    ContactMethod.objects.create(user=on_call["oncall-sre"], channel="webhook", address=hook.url)
    incident, page, deliveries = paged(on_call)
    assert list(deliveries) == ["webhook"]  # a contact method replaces the e-mail fallback
    delivery = deliveries["webhook"]
    t0 = page.created_at
    notify.deliver(delivery.pk, now=t0)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("retry", 1, t0 + timedelta(seconds=30))
    assert "HTTP 503" in delivery.last_error
    assert notify.due_retries(t0 + timedelta(seconds=29)) == []
    assert notify.due_retries(t0 + timedelta(seconds=30)) == [delivery.pk]
    notify.deliver(delivery.pk, now=t0 + timedelta(seconds=30))
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    sent = hook.requests[-1]["json"]
    assert len(hook.requests) == 2 and hook.requests[-1]["headers"]["Content-Type"] == "application/json"
    assert sent["incident"] == incident.reference and sent["severity"] == "P1" and sent["level"] == 1
    assert sent["user"] == "oncall_sre" and "/ack/" in sent["ack_url"]
    assert "after 2 attempts" in TimelineEvent.objects.get(incident=incident, kind="page_delivered").message


def test_team_chat_channel_gets_slack_text(on_call, receiver):
    chat = receiver()
    ContactMethod.objects.create(user=None, channel="slack", address=chat.url)
    incident, page, deliveries = paged(on_call)
    assert sorted(deliveries) == ["email", "slack"]
    notify.deliver(deliveries["slack"].pk)
    [request] = chat.requests
    assert list(request["json"]) == ["text"] and incident.reference in request["json"]["text"]


def test_a_permanent_failure_is_not_retried(on_call, receiver):
    hook = receiver(404)
    ContactMethod.objects.create(user=on_call["oncall-sre"], channel="webhook", address=hook.url)
    incident, page, deliveries = paged(on_call)
    notify.deliver(deliveries["webhook"].pk)
    delivery = Delivery.objects.get(pk=deliveries["webhook"].pk)
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert "permanent" in TimelineEvent.objects.get(incident=incident, kind="page_failed").message


def test_retries_stop_after_the_last_attempt(on_call, receiver):
    hook = receiver(*[500] * notify.MAX_ATTEMPTS)
    ContactMethod.objects.create(user=on_call["oncall-sre"], channel="webhook", address=hook.url)
    _, page, deliveries = paged(on_call)
    now = page.created_at
    for _ in range(notify.MAX_ATTEMPTS):
        notify.deliver(deliveries["webhook"].pk, now=now)
        now += timedelta(hours=1)
    delivery = Delivery.objects.get(pk=deliveries["webhook"].pk)
    assert (delivery.status, delivery.attempts) == ("failed", notify.MAX_ATTEMPTS)


def test_a_slow_webhook_times_out_and_is_retried(on_call, receiver, monkeypatch):
    monkeypatch.setattr(channels, "TIMEOUT", 0.3)
    hook = receiver(delay=1)
    ContactMethod.objects.create(user=on_call["oncall-sre"], channel="webhook", address=hook.url)
    _, _, deliveries = paged(on_call)
    notify.deliver(deliveries["webhook"].pk)
    assert Delivery.objects.get(pk=deliveries["webhook"].pk).status == "retry"


def test_backoff_doubles_up_to_a_cap():
    assert [notify.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert notify.backoff(20) == notify.BACKOFF_MAX


def test_a_delivery_is_sent_once_even_if_its_task_runs_twice(on_call):
    _, _, deliveries = paged(on_call)
    assert notify.deliver(deliveries["email"].pk) is not None
    assert notify.deliver(deliveries["email"].pk) is None
    assert len(mail.outbox) == 1


def test_a_delivery_whose_task_was_lost_is_found_again(on_call):
    _, page, deliveries = paged(on_call)
    assert notify.due_retries(page.created_at + timedelta(seconds=14)) == []
    found = page.created_at + timedelta(seconds=16)
    assert notify.due_retries(found) == [deliveries["email"].pk]
    # Its task is on its way again: not sent at every tick while it waits in a backlog, but after another while.
    assert notify.due_retries(found + timedelta(seconds=5)) == []
    assert notify.due_retries(found + notify.LOST_AFTER) == [deliveries["email"].pk]


def test_a_delivery_claimed_by_a_dead_worker_is_sent_again_soon_after_the_lease(on_call, receiver):
    hook = receiver()
    ContactMethod.objects.create(user=on_call["oncall-sre"], channel="webhook", address=hook.url)
    _, page, deliveries = paged(on_call)
    delivery = deliveries["webhook"]
    claimed = page.created_at
    # What a worker killed mid-send leaves: its claim, attempt 1, and maybe a message the receiver got.
    Delivery.objects.filter(pk=delivery.pk).update(status="sending", claimed_at=claimed, claimed_by="gone:4242",
                                                   attempts=1)
    assert notify.lease() == timedelta(seconds=20)
    assert notify.due_retries(claimed + notify.lease() - timedelta(seconds=1)) == []  # a live claim is left alone
    assert notify.deliver(delivery.pk) is None and hook.requests == []
    assert notify.due_retries(claimed + notify.lease() + timedelta(seconds=1)) == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.last_error == "worker lost while sending: no word from gone:4242 within 20 s"
    notify.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    [request] = hook.requests
    assert request["headers"]["Idempotency-Key"] == str(delivery.key) == request["json"]["delivery_id"]
    assert request["headers"]["X-Ops-Console-Attempt"] == "2" and request["json"]["attempt"] == 2


def test_every_attempt_of_a_webhook_carries_the_same_idempotency_key(on_call, receiver):
    hook = receiver(503)
    ContactMethod.objects.create(user=on_call["oncall-sre"], channel="webhook", address=hook.url)
    _, page, deliveries = paged(on_call)
    notify.deliver(deliveries["webhook"].pk, now=page.created_at)
    notify.deliver(deliveries["webhook"].pk, now=page.created_at + timedelta(minutes=1))
    first, second = hook.requests
    key = str(Delivery.objects.get(pk=deliveries["webhook"].pk).key)
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"] == key
    assert [first["json"]["attempt"], second["json"]["attempt"]] == [1, 2]
    _, other_page, others = paged(on_call)  # another page has a key of its own
    assert str(others["webhook"].key) != key


def test_an_email_keeps_its_message_id_when_sent_again(on_call):
    _, page, deliveries = paged(on_call)
    delivery = deliveries["email"]
    notify.deliver(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(status="retry")  # as if its worker was lost after sending
    notify.deliver(delivery.pk)
    first, second = mail.outbox
    assert first.extra_headers["Message-ID"] == second.extra_headers["Message-ID"] == f"<{delivery.key}@127.0.0.1>"
    assert "Message-ID: <%s@127.0.0.1>" % delivery.key in first.message().as_string()
    assert [first.extra_headers["X-Ops-Console-Attempt"], second.extra_headers["X-Ops-Console-Attempt"]] == ["1", "2"]


def test_a_worker_whose_claim_lapsed_does_not_overwrite_the_next_attempt(on_call, receiver):
    hook = receiver(503)
    ContactMethod.objects.create(user=on_call["oncall-sre"], channel="webhook", address=hook.url)
    _, page, deliveries = paged(on_call)
    delivery = deliveries["webhook"]
    Delivery.objects.filter(pk=delivery.pk).update(attempts=1)  # attempt 1's claim lapsed, this is attempt 2
    notify.deliver(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(status="sending", attempts=3)  # attempt 3 took it over meanwhile
    stale = Delivery.objects.get(pk=delivery.pk)
    stale.attempts = 2
    notify._failed(stale, channels.DeliveryError("late answer"), page.created_at)
    assert Delivery.objects.get(pk=delivery.pk).status == "sending"
