"""Deliveries through Apprise against real receivers started here: an SMTP
server (aiosmtpd) and a tiny HTTP server that records what it was sent;
attempts as rows, retries with back-off, notification rules (delays, order,
fall-through) and the page that fails when every method of its person has."""
from datetime import timedelta

import pytest

from ops_console.escalation import channels, engine, notify
from ops_console.escalation.models import Delivery, DeliveryAttempt, Page, ScheduledLevel
from ops_console.incidents.models import TimelineEvent

from tests.conftest import database_url

from .conftest import contact, json_url, open_incident


def paged(on_call, code="P1"):
    """Open an incident and fire its first level: returns (incident, page, its deliveries by channel)."""
    incident = open_incident(code)
    engine.fire_due(incident.escalation.started_at)
    page = Page.objects.get(incident=incident, level=1)
    return incident, page, {d.channel: d for d in page.deliveries.all()}


def test_an_email_method_sends_through_a_real_smtp_server(on_call, smtp):
    server = smtp()
    contact(on_call["oncall-sre"], server.url("cho@example.test"))
    incident, page, deliveries = paged(on_call)
    assert list(deliveries) == ["E-Mail"] and server.messages == []  # the engine itself sends nothing
    notify.deliver(deliveries["E-Mail"].pk)
    [message] = server.messages
    assert message["To"] == "cho@example.test"
    assert message["Subject"] == f"[P1] {incident.reference} Error rate above SLO"
    body = message.get_payload(decode=True).decode()
    assert "You are paged as On-call SRE (level 1)" in body
    assert "/ack/" in body and incident.get_absolute_url() in body
    delivery = Delivery.objects.get(pk=deliveries["E-Mail"].pk)
    assert delivery.status == "delivered" and message["X-Ops-Console-Delivery"] == str(delivery.key)
    [attempt] = delivery.attempt_log.all()
    assert (attempt.number, attempt.outcome, attempt.error) == (1, "sent", "")
    assert TimelineEvent.objects.filter(incident=incident, kind="page_delivered").count() == 1


def test_without_methods_the_account_email_goes_through_the_server_in_settings(on_call, smtp, settings):
    server = smtp()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    _, page, deliveries = paged(on_call)
    assert list(deliveries) == ["E-Mail"] and deliveries["E-Mail"].method is None
    notify.deliver(deliveries["E-Mail"].pk)
    [message] = server.messages
    assert message["To"] == "oncall_sre@example.test"


def test_a_refusing_smtp_server_is_an_attempt_with_its_error_and_a_retry(on_call, smtp):
    server = smtp(refuse=True)
    contact(on_call["oncall-sre"], server.url("cho@example.test"))
    _, page, deliveries = paged(on_call)
    t0 = page.created_at
    notify.deliver(deliveries["E-Mail"].pk, now=t0)
    delivery = Delivery.objects.get(pk=deliveries["E-Mail"].pk)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("retry", 1, t0 + timedelta(seconds=30))
    [attempt] = delivery.attempt_log.all()
    assert attempt.outcome == "failed" and attempt.error.startswith("E-Mail:") and attempt.started_at == t0


def test_webhook_gets_json_and_a_failure_is_retried_with_backoff(on_call, receiver):
    hook = receiver(503)
    contact(on_call["oncall-sre"], json_url(hook.url))
    incident, page, deliveries = paged(on_call)
    assert list(deliveries) == ["JSON"]  # a contact method replaces the e-mail fallback
    delivery = deliveries["JSON"]
    t0 = page.created_at
    notify.deliver(delivery.pk, now=t0)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("retry", 1, t0 + timedelta(seconds=30))
    assert delivery.last_error.startswith("JSON:")
    assert notify.due_retries(t0 + timedelta(seconds=29)) == []
    assert notify.due_retries(t0 + timedelta(seconds=30)) == [delivery.pk]
    notify.deliver(delivery.pk, now=t0 + timedelta(seconds=30))
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert [a.outcome for a in delivery.attempt_log.all()] == ["failed", "sent"]
    sent = hook.requests[-1]["json"]
    assert len(hook.requests) == 2 and hook.requests[-1]["headers"]["Content-Type"] == "application/json"
    assert sent["title"] == f"[P1] {incident.reference} Error rate above SLO" and "/ack/" in sent["message"]
    assert sent["incident"] == incident.reference and sent["severity"] == "P1" and sent["level"] == "1"
    assert sent["user"] == "oncall_sre" and "/ack/" in sent["ack_url"]
    assert "after 2 attempts" in TimelineEvent.objects.get(incident=incident, kind="page_delivered").message


def test_team_chat_channel_gets_slack_text(on_call, receiver):
    chat = receiver()
    contact(None, json_url(chat.url, ":message=text", ":version=", ":title=", ":attachments=", ":type="))
    incident, page, deliveries = paged(on_call)
    assert sorted(deliveries) == ["E-Mail", "JSON"] and not deliveries["JSON"].personal
    notify.deliver(deliveries["JSON"].pk)
    [request] = chat.requests
    assert list(request["json"]) == ["text"] and incident.reference in request["json"]["text"]


def test_a_url_apprise_cannot_read_fails_at_once_and_is_not_retried(on_call):
    contact(on_call["oncall-sre"], "https://hooks.example.test/not-apprise")   # saved around the form
    incident, page, deliveries = paged(on_call)
    [delivery] = deliveries.values()
    notify.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert "permanent" in TimelineEvent.objects.filter(incident=incident, kind="page_failed").first().message


def test_retries_stop_after_the_last_attempt(on_call, receiver):
    hook = receiver(*[500] * notify.MAX_ATTEMPTS)
    contact(on_call["oncall-sre"], json_url(hook.url))
    _, page, deliveries = paged(on_call)
    now = page.created_at
    for _ in range(notify.MAX_ATTEMPTS):
        notify.deliver(deliveries["JSON"].pk, now=now)
        now += timedelta(hours=1)
    delivery = Delivery.objects.get(pk=deliveries["JSON"].pk)
    assert (delivery.status, delivery.attempts) == ("failed", notify.MAX_ATTEMPTS)
    assert delivery.attempt_log.count() == notify.MAX_ATTEMPTS


def test_a_slow_webhook_times_out_and_is_retried(on_call, receiver, monkeypatch):
    monkeypatch.setattr(channels, "TIMEOUT", 0.3)
    hook = receiver(delay=1)
    contact(on_call["oncall-sre"], json_url(hook.url))
    _, _, deliveries = paged(on_call)
    notify.deliver(deliveries["JSON"].pk)
    assert Delivery.objects.get(pk=deliveries["JSON"].pk).status == "retry"


def test_backoff_doubles_up_to_a_cap():
    assert [notify.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert notify.backoff(20) == notify.BACKOFF_MAX


def test_a_delivery_is_sent_once_even_if_its_task_runs_twice(on_call, receiver):
    hook = receiver()
    contact(on_call["oncall-sre"], json_url(hook.url))
    _, _, deliveries = paged(on_call)
    assert notify.deliver(deliveries["JSON"].pk) is not None
    assert notify.deliver(deliveries["JSON"].pk) is None
    assert len(hook.requests) == 1


def test_a_delivery_whose_task_was_lost_is_found_again(on_call):
    _, page, deliveries = paged(on_call)
    assert notify.due_retries(page.created_at + timedelta(seconds=14)) == []
    found = page.created_at + timedelta(seconds=16)
    assert notify.due_retries(found) == [deliveries["E-Mail"].pk]
    # Its task is on its way again: not sent at every tick while it waits in a backlog, but after another while.
    assert notify.due_retries(found + timedelta(seconds=5)) == []
    again = found + notify.LOST_AFTER
    assert notify.due_retries(again) == [deliveries["E-Mail"].pk]
    # Each time twice as long: a backlog on the paging queue is not fed copies of itself.
    assert notify.due_retries(again + notify.LOST_AFTER) == []
    assert notify.due_retries(again + 2 * notify.LOST_AFTER) == [deliveries["E-Mail"].pk]
    delivery = Delivery.objects.get(pk=deliveries["E-Mail"].pk)
    assert delivery.requeued == 3 and delivery.next_attempt_at == again + 2 * notify.LOST_AFTER + 4 * notify.LOST_AFTER
    Delivery.objects.filter(pk=delivery.pk).update(requeued=20)
    last = delivery.next_attempt_at
    notify.due_retries(last)
    assert Delivery.objects.get(pk=delivery.pk).next_attempt_at == last + notify.LOST_MAX


def test_a_delivery_claimed_by_a_dead_worker_is_sent_again_soon_after_the_lease(on_call, receiver):
    hook = receiver()
    contact(on_call["oncall-sre"], json_url(hook.url))
    _, page, deliveries = paged(on_call)
    delivery = deliveries["JSON"]
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
    [lost] = delivery.attempt_log.all()
    assert (lost.number, lost.outcome, lost.worker) == (1, "lost", "gone:4242")
    notify.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    [request] = hook.requests
    assert request["headers"]["Idempotency-Key"] == str(delivery.key) == request["json"]["delivery_id"]
    assert request["headers"]["X-Ops-Console-Attempt"] == "2" and request["json"]["attempt"] == "2"


def test_every_attempt_carries_the_same_delivery_id(on_call, receiver, smtp):
    hook, server = receiver(503), smtp()
    contact(on_call["oncall-sre"], json_url(hook.url))
    contact(on_call["oncall-sre"], server.url("cho@example.test"), position=1)
    _, page, deliveries = paged(on_call)
    for minutes in (0, 1):
        notify.deliver(deliveries["JSON"].pk, now=page.created_at + timedelta(minutes=minutes))
    first, second = hook.requests
    key = str(Delivery.objects.get(pk=deliveries["JSON"].pk).key)
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"] == key
    assert [first["json"]["attempt"], second["json"]["attempt"]] == ["1", "2"]
    mail = deliveries["E-Mail"]
    notify.deliver(mail.pk)
    Delivery.objects.filter(pk=mail.pk).update(status="retry")  # as if its worker was lost after sending
    notify.deliver(mail.pk)
    assert [m["X-Ops-Console-Delivery"] for m in server.messages] == [str(mail.key)] * 2
    assert [m["X-Ops-Console-Attempt"] for m in server.messages] == ["1", "2"]
    _, _, others = paged(on_call)  # another page has a key of its own
    assert str(others["JSON"].key) != key


def test_a_worker_whose_claim_lapsed_does_not_overwrite_the_next_attempt(on_call, receiver):
    hook = receiver(503)
    contact(on_call["oncall-sre"], json_url(hook.url))
    _, page, deliveries = paged(on_call)
    delivery = deliveries["JSON"]
    Delivery.objects.filter(pk=delivery.pk).update(attempts=1)  # attempt 1's claim lapsed, this is attempt 2
    notify.deliver(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(status="sending", attempts=3)  # attempt 3 took it over meanwhile
    stale = Delivery.objects.get(pk=delivery.pk)
    stale.attempts = 2
    notify._failed(stale, channels.DeliveryError("late answer"), page.created_at, page.created_at)
    assert Delivery.objects.get(pk=delivery.pk).status == "sending"


# --- notification rules and failing over ------------------------------------

def test_methods_go_out_after_their_delay_in_the_persons_order(on_call, receiver, smtp):
    hook, server = receiver(), smtp()
    person = on_call["oncall-sre"]
    contact(person, json_url(hook.url), delay=2)
    contact(person, server.url("cho@example.test"))
    _, page, deliveries = paged(on_call)
    mail, chat = deliveries["E-Mail"], deliveries["JSON"]
    assert mail.next_attempt_at is None and chat.next_attempt_at == page.created_at + timedelta(minutes=2)
    notify.deliver(mail.pk, now=page.created_at)
    assert len(server.messages) == 1 and hook.requests == []
    assert notify.due_retries(page.created_at + timedelta(seconds=119)) == []
    assert notify.due_retries(page.created_at + timedelta(minutes=2)) == [chat.pk]


def test_a_failed_method_sends_the_waiting_ones_at_once(on_call, receiver, smtp):
    hook, server = receiver(), smtp(refuse=True)
    person = on_call["oncall-sre"]
    contact(person, server.url("cho@example.test"))
    contact(person, json_url(hook.url), delay=2)
    _, page, deliveries = paged(on_call)
    notify.deliver(deliveries["E-Mail"].pk, now=page.created_at)
    chat = Delivery.objects.get(pk=deliveries["JSON"].pk)
    assert chat.next_attempt_at == page.created_at + notify.LOST_AFTER   # on its way now, not in 2 minutes
    assert Page.objects.get(pk=page.pk).failed_at is None   # the chat may still get through


def test_when_every_method_fails_the_page_fails_and_the_next_level_is_due_now(no_repeats, receiver, smtp):
    hook, server = receiver(503), smtp(refuse=True)
    person = no_repeats["oncall-sre"]
    contact(person, server.url("cho@example.test"))
    contact(person, json_url(hook.url), delay=5)
    team = receiver(503)
    contact(None, json_url(team.url))   # a team channel's failure is not the person's
    incident, page, deliveries = paged(no_repeats)
    level2 = ScheduledLevel.objects.get(incident=incident, level=2)
    t0 = page.created_at
    notify.deliver(deliveries["JSON"].pk, now=t0)   # the team channel fails: changes nothing
    assert Page.objects.get(pk=page.pk).failed_at is None
    notify.deliver(deliveries["E-Mail"].pk, now=t0)
    assert Page.objects.get(pk=page.pk).failed_at is None
    personal_chat = Delivery.objects.get(page=page, personal=True, channel="JSON")
    notify.deliver(personal_chat.pk, now=t0 + timedelta(seconds=1))
    assert Page.objects.get(pk=page.pk).failed_at == t0 + timedelta(seconds=1)
    assert ScheduledLevel.objects.get(pk=level2.pk).due_at == t0 + timedelta(seconds=1)
    failed = TimelineEvent.objects.get(incident=incident, kind="page_failed", data__all_failed=True)
    assert "every contact method of oncall_sre failed" in failed.message and "level 2" in failed.message
    # Level 2 fires now, once; its retries do not mark the page failed again.
    assert len(engine.fire_due(t0 + timedelta(seconds=1))) == 1
    assert Page.objects.filter(incident=incident, level=2).count() == 1
    status = engine.board_status([incident])[incident.pk]
    assert status["failed"] == ["oncall_sre"]


def test_next_escalation_names_the_person(no_repeats):
    incident = open_incident("P1")
    engine.fire_due(incident.escalation.started_at)
    status = engine.board_status([incident], incident.escalation.started_at)[incident.pk]
    level2 = ScheduledLevel.objects.get(incident=incident, level=2)
    assert status["next_role"] == level2.role_name
    assert status["next_who"] == no_repeats[level2.role_slug].username


def test_a_failed_repeat_of_level_1_does_not_bring_level_3_forward(on_call, receiver):
    hook = receiver(*[503] * 10)
    contact(on_call["oncall-sre"], json_url(hook.url))
    incident, page, deliveries = paged(on_call)
    notify.deliver(deliveries["JSON"].pk, now=page.created_at)   # all failed: level 2 now
    engine.fire_due(page.created_at)
    assert Page.objects.filter(incident=incident, level=2).count() == 1
    level3 = ScheduledLevel.objects.get(incident=incident, level=3)
    repeat = ScheduledLevel.objects.get(incident=incident, level=1, round=1)
    engine.fire_due(repeat.due_at)
    again = Page.objects.get(step=repeat)
    notify.deliver(again.deliveries.get(personal=True).pk, now=repeat.due_at)
    assert Page.objects.get(pk=again.pk).failed_at is not None
    assert ScheduledLevel.objects.get(pk=level3.pk).due_at == level3.due_at   # keeps its own time


def _cut_our_connection():
    """A database restart as this process sees it: its session is terminated from another one."""
    import psycopg
    from django.db import connection

    pid = connection.connection.info.backend_pid
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("when", ["before the claim", "after the send"])
def test_a_database_blip_mid_delivery_neither_loses_the_page_nor_sends_it_twice(on_call, receiver, monkeypatch, when):
    hook = receiver()
    contact(on_call["oncall-sre"], json_url(hook.url))
    incident, page, deliveries = paged(on_call)
    sent = channels.send

    def send_then_blip(url, message):
        sent(url, message)
        _cut_our_connection()

    if when == "before the claim":
        _cut_our_connection()
    else:
        monkeypatch.setattr(channels, "send", send_then_blip)
    delivery = notify.deliver(deliveries["JSON"].pk)
    assert delivery.status == "delivered"
    assert len(hook.requests) == 1
    assert [a.outcome for a in DeliveryAttempt.objects.filter(delivery=delivery)] == ["sent"]
    assert TimelineEvent.objects.filter(incident=incident, kind="page_delivered").count() == 1
