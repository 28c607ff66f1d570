"""The escalation engine against PostgreSQL: exactly once under a race, frozen
policies, severity restarts, acknowledgement, maintenance, the audit, repeats."""
import logging
import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ops_console.escalation import engine, notify
from ops_console.escalation.actions import do_end_window, do_save_policy
from ops_console.escalation.models import Delivery, EscalationPolicy, Page, ResponseRole, ScheduledLevel
from ops_console.incidents.actions import do_acknowledge, do_change_severity, do_change_status
from ops_console.incidents.models import TimelineEvent

from .conftest import open_incident, pages_of, service, severity

MIN = timedelta(minutes=1)


def events(incident, kind):
    return list(TimelineEvent.objects.filter(incident=incident, kind=kind).values_list("message", flat=True))


@pytest.mark.django_db(transaction=True)
def test_two_engines_racing_page_each_level_exactly_once(no_repeats, on_call):
    incidents = [open_incident("P0", title=f"outage {n}") for n in range(40)]
    late = max(i.escalation.started_at for i in incidents) + 3 * 60 * MIN
    barrier = threading.Barrier(2)
    results, errors = [], []

    def engine_process():
        try:
            barrier.wait()
            results.append(len(engine.fire_due(late, batch=5)))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=engine_process) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(results) == 40 * 4
    assert Page.objects.count() == 40 * 4
    for incident in incidents:
        assert [level for level, _ in pages_of(incident)] == [1, 2, 3, 4]
    assert not ScheduledLevel.objects.filter(status="pending").exists()


def test_the_database_refuses_a_second_page_for_a_level(on_call):
    incident = open_incident("P1")
    engine.fire_due(incident.escalation.started_at)
    page = Page.objects.get(incident=incident)
    with pytest.raises(IntegrityError), transaction.atomic():
        Page.objects.create(step=page.step, incident=incident, role_name="x", level=1, created_at=page.created_at,
                            link_expires_at=page.link_expires_at)


def test_editing_a_policy_does_not_change_a_live_escalation(no_repeats, on_call):
    incident = open_incident("P1")
    policy = EscalationPolicy.objects.get(severity="P1", service=None)
    do_save_policy(policy, name="P1 changed", description="", acting_user=None, levels=[
        {"delay_minutes": 0, "role": ResponseRole.objects.get(slug="cto"), "stop_on": "ack",
         "repeat_every_minutes": None}])
    engine.fire_due(incident.escalation.started_at + 30 * MIN)
    assert pages_of(incident) == [(1, "oncall_sre"), (2, "senior_sre")]
    later = open_incident("P1")
    engine.fire_due(later.escalation.started_at)
    assert pages_of(later) == [(1, "cto")]


def test_raising_severity_restarts_the_clock_on_the_new_levels(no_repeats, on_call, make_user):
    incident = open_incident("P2")
    t0 = incident.escalation.started_at
    engine.fire_due(t0)
    do_change_severity(incident, severity("P0"), acting_user=make_user("commander"))
    incident.escalation.refresh_from_db()
    t1 = incident.escalation.started_at
    assert incident.escalation.generation == 2 and incident.escalation.snapshot["severity"] == "P0"
    assert ScheduledLevel.objects.get(incident=incident, generation=1, level=2).status == "cancelled"
    engine.fire_due(t1 + 29 * MIN)
    assert pages_of(incident) == [(1, "oncall_sre"), (1, "oncall_sre")]
    engine.fire_due(t1 + 30 * MIN)
    assert pages_of(incident)[-1] == (2, "incident_commander")


def test_acknowledging_stops_the_levels_that_stop_on_acknowledgement(on_call, make_user):
    policy = EscalationPolicy.objects.get(severity="P1", service=None)
    roles = {r.slug: r for r in ResponseRole.objects.all()}
    do_save_policy(policy, name="P1", description="", acting_user=None, levels=[
        {"delay_minutes": 0, "role": roles["oncall-sre"], "stop_on": "ack", "repeat_every_minutes": None},
        {"delay_minutes": 30, "role": roles["senior-sre"], "stop_on": "ack", "repeat_every_minutes": None},
        {"delay_minutes": 60, "role": roles["engineering-manager"], "stop_on": "resolve",
         "repeat_every_minutes": None}])
    incident = open_incident("P1")
    engine.fire_due(incident.escalation.started_at)
    do_acknowledge(incident, acting_user=on_call["oncall-sre"])
    engine.fire_due(incident.escalation.started_at + 3 * 60 * MIN)
    assert pages_of(incident) == [(1, "oncall_sre"), (3, "engineering_manager")]
    assert ScheduledLevel.objects.get(incident=incident, level=2).cancelled_reason == "acknowledged"


def test_a_repeating_level_pages_again_until_resolved(on_call, make_user):
    policy = EscalationPolicy.objects.get(severity="P2", service=None)
    do_save_policy(policy, name="P2", description="", acting_user=None, levels=[
        {"delay_minutes": 0, "role": ResponseRole.objects.get(slug="oncall-sre"), "stop_on": "resolve",
         "repeat_every_minutes": 10}])
    incident = open_incident("P2")
    t0 = incident.escalation.started_at
    do_acknowledge(incident, acting_user=on_call["oncall-sre"])
    for minutes in (0, 10, 20):
        engine.fire_due(t0 + minutes * MIN)
    assert len(pages_of(incident)) == 3
    do_change_status(incident, "resolved", acting_user=make_user("commander"))
    engine.fire_due(t0 + 60 * MIN)
    assert len(pages_of(incident)) == 3


def test_maintenance_holds_pages_back_and_records_it(on_call, make_user):
    from ops_console.escalation.actions import do_create_window

    api = service("api")
    incident = open_incident("P1", services=[api])
    t0 = incident.escalation.started_at
    window = do_create_window(service=api, starts_at=t0 - MIN, ends_at=t0 + 45 * MIN, reason="DB upgrade",
                              acting_user=make_user("commander"))
    engine.fire_due(t0)
    engine.fire_due(t0 + 30 * MIN)
    assert pages_of(incident) == []
    held = events(incident, TimelineEvent.Kind.HELD_BACK)
    assert len(held) == 2 and "DB upgrade" in held[0]  # once per level, not once per tick
    assert set(ScheduledLevel.objects.filter(incident=incident, level__lte=2).values_list("held_by", flat=True)) \
        == {window.pk}
    do_end_window(window, acting_user=make_user("commander"), now=t0 + 31 * MIN)
    engine.fire_due(t0 + 31 * MIN)
    assert pages_of(incident) == [(1, "oncall_sre"), (2, "senior_sre")]


def test_an_incident_partly_outside_maintenance_still_pages(on_call, make_user):
    from ops_console.escalation.actions import do_create_window

    api, web = service("api"), service("web")
    incident = open_incident("P1", services=[api, web])
    t0 = incident.escalation.started_at
    do_create_window(service=api, starts_at=t0 - MIN, ends_at=t0 + 45 * MIN, reason="DB upgrade",
                     acting_user=make_user("commander"))
    engine.fire_due(t0)
    assert pages_of(incident) == [(1, "oncall_sre")]


def test_the_audit_fires_an_overdue_level_and_reports_it(on_call, caplog):
    incident = open_incident("P1")
    t0 = incident.escalation.started_at
    assert engine.audit(t0 + 50 * timedelta(seconds=1)) == []  # due, but not a minute overdue yet
    caplog.set_level(logging.WARNING, logger="ops_console.escalation.engine")
    fired = engine.audit(t0 + 2 * MIN)
    assert [(row.level, row.fired_by) for row in fired] == [(1, "audit")]
    assert pages_of(incident) == [(1, "oncall_sre")]
    assert "overdue" in events(incident, TimelineEvent.Kind.ESCALATED)[0]
    assert "audit fired" in caplog.text


def test_nobody_on_call_is_recorded_as_a_failed_page(db):
    from ops_console.escalation.matrix import ensure_defaults

    ensure_defaults()
    incident = open_incident("P1")
    engine.fire_due(incident.escalation.started_at)
    # Each page to nobody fails at once and brings the next level forward (test_failover.py).
    assert pages_of(incident) == [(1, None), (2, None), (3, None), (4, None)]
    assert "Nobody holds the role On-call SRE" in events(incident, TimelineEvent.Kind.PAGE_FAILED)[0]


def test_board_status_in_a_fixed_number_of_queries(no_repeats, django_assert_num_queries):
    incidents = [open_incident("P0", title=f"outage {n}") for n in range(3)]
    engine.fire_due(incidents[0].escalation.started_at + 30 * MIN)
    # Three for pages and levels, one for their deliveries, three for who holds the next roles.
    with django_assert_num_queries(7):
        status = engine.board_status(incidents)
    first = status[incidents[0].pk]
    assert first["paged"] == ["oncall_sre", "incident_commander"] and first["level"] == 2
    assert first["next_role"] == "VP of Engineering" and first["next_who"] == "vp_engineering"
    assert first["next_at"] == incidents[0].escalation.started_at + 60 * MIN


def test_a_broken_level_does_not_hold_back_the_others(on_call, monkeypatch, caplog):
    broken, fine = open_incident("P1", title="broken"), open_incident("P1", title="fine")
    real = engine.page_events

    def page_events(row, page, incident, at, by):
        if incident.pk == broken.pk:
            raise RuntimeError("boom")
        return real(row, page, incident, at, by)

    monkeypatch.setattr(engine, "page_events", page_events)
    engine.fire_due(max(broken.escalation.started_at, fine.escalation.started_at))
    assert pages_of(fine) == [(1, "oncall_sre")] and pages_of(broken) == []
    assert ScheduledLevel.objects.get(incident=broken, level=1).status == "pending"  # the audit tries again
    assert "failed to fire" in caplog.text


def test_resolving_stops_every_level(on_call, make_user):
    incident = open_incident("P0")
    do_change_status(incident, "resolved", acting_user=make_user("commander"))
    engine.fire_due(incident.escalation.started_at + 3 * 60 * MIN)
    assert pages_of(incident) == []
    assert set(ScheduledLevel.objects.filter(incident=incident).values_list("cancelled_reason", flat=True)) \
        == {"resolved"}


def test_a_severity_raise_after_acknowledgement_skips_levels_that_stop_on_it(on_call, make_user):
    incident = open_incident("P2")
    do_acknowledge(incident, acting_user=on_call["oncall-sre"])
    do_change_severity(incident, severity("P0"), acting_user=make_user("commander"))
    pending = ScheduledLevel.objects.filter(incident=incident, status="pending")
    assert sorted(pending.values_list("level", "stop_on")) == [(2, "resolve"), (3, "resolve"), (4, "resolve")]


def test_reopening_a_resolved_incident_escalates_again_with_the_frozen_policy(no_repeats, on_call, make_user):
    incident = open_incident("P1")
    t0 = incident.escalation.started_at
    engine.fire_due(t0)
    commander = make_user("commander")
    do_change_status(incident, "resolved", acting_user=commander)
    policy = EscalationPolicy.objects.get(severity="P1", service=None)
    do_save_policy(policy, name="P1 changed", description="", acting_user=None, levels=[
        {"delay_minutes": 0, "role": ResponseRole.objects.get(slug="cto"), "stop_on": "ack",
         "repeat_every_minutes": None}])
    do_change_status(incident, "triggered", acting_user=commander)
    incident.escalation.refresh_from_db()
    t1 = incident.escalation.started_at
    assert incident.escalation.generation == 2 and incident.escalation.stopped_at is None
    assert incident.escalation.snapshot["levels"][0]["role"] == "oncall-sre"  # frozen, not the edited policy
    engine.fire_due(t1 + 29 * MIN)
    assert pages_of(incident) == [(1, "oncall_sre"), (1, "oncall_sre")]
    engine.fire_due(t1 + 30 * MIN)
    assert pages_of(incident)[-1] == (2, "senior_sre")
    assert ScheduledLevel.objects.filter(incident=incident, generation=1, status="cancelled").count() == 3


def test_resolving_a_reopened_incident_stops_it_again(on_call, make_user):
    incident = open_incident("P2")
    commander = make_user("commander")
    for status in ("resolved", "triggered", "resolved"):
        do_change_status(incident, status, acting_user=commander)
    incident.escalation.refresh_from_db()
    assert incident.escalation.stopped_at is not None
    assert not ScheduledLevel.objects.filter(incident=incident, status="pending").exists()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_broker_that_is_away_does_not_stop_the_engine_after_its_first_batch(no_repeats, on_call, private_redis):
    from tests.runbooks.test_tasks import celery_broker

    incidents = [open_incident(title=f"Broker away {n}") for n in range(3)]
    due = max(incident.escalation.started_at for incident in incidents) + timedelta(seconds=1)
    with celery_broker(private_redis.url):
        private_redis.stop()  # the pages' delivery tasks cannot be queued after each batch commits
        fired = engine.fire_due(due, batch=1)
    assert len(fired) == 3
    assert all(pages_of(incident) for incident in incidents)
    # Due at the next retry tick, not once they would count as lost (LOST_AFTER).
    unqueued = Delivery.objects.filter(page__incident__in=incidents)
    assert unqueued and all(d.status == "pending" and d.next_attempt_at <= timezone.now() for d in unqueued)
    assert set(notify.due_retries()) >= {d.pk for d in unqueued}
