"""Beat watched and stood in for (ops_console/beat_watch.py): a worker with no
beat running fires a due escalation level itself within seconds of noticing
the silence; while beat ticks, workers leave beat's work to it."""
import time

import pytest
from django.conf import settings
from django.core.cache import cache

from ops_console import beat_watch
from ops_console.escalation.models import Page, ScheduledLevel
from tests.escalation.conftest import on_call, open_incident  # noqa: F401 - on_call is a fixture
from tests.waiting import wait_until


@pytest.fixture(autouse=True)
def no_tick_recorded():
    cache.delete(beat_watch.TICK_KEY)
    yield
    cache.delete(beat_watch.TICK_KEY)


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_workers_leave_beats_work_to_a_ticking_beat(db):
    clock = Clock()
    stand_in = beat_watch.StandIn(30, clock=clock)
    beat_watch.record_tick(clock.now)
    clock.now += 29
    assert stand_in.step() == [] and not stand_in.standing_in


def test_a_silent_beat_is_stood_in_for_at_beats_intervals_until_it_ticks_again(db, monkeypatch):
    ran = []

    for name in beat_watch.ESSENTIAL:  # the tasks themselves are tested where they live
        task = beat_watch.symbol_by_name(settings.CELERY_BEAT_SCHEDULE[name]["task"])
        monkeypatch.setattr(task, "run", lambda name=name: ran.append(name))
    clock = Clock()
    stand_in = beat_watch.StandIn(30, clock=clock)
    beat_watch.record_tick(clock.now)
    clock.now += 31
    assert stand_in.step() == list(beat_watch.ESSENTIAL) and stand_in.standing_in
    clock.now += 2
    assert stand_in.step() == ["escalations-fire-due"]  # every 2 s, as in CELERY_BEAT_SCHEDULE
    clock.now += 1
    assert stand_in.step() == []
    assert ran == [*beat_watch.ESSENTIAL, "escalations-fire-due"]
    beat_watch.record_tick(clock.now)  # beat is back
    clock.now += 1
    assert stand_in.step() == [] and not stand_in.standing_in


def test_a_tick_from_before_the_silence_does_not_end_the_stand_in(db, monkeypatch):
    # A broker restart: the cache is away (no tick known), then back with the tick from before it,
    # while beat and the workers are still reconnecting. Only a newer tick means beat is back.
    monkeypatch.setattr(beat_watch, "ESSENTIAL", ())
    clock = Clock()
    stand_in = beat_watch.StandIn(30, clock=clock)
    clock.now += 40  # a worker up for a while, beat ticking
    beat_watch.record_tick(clock.now)
    stand_in.step()
    assert not stand_in.standing_in
    cache_away = monkeypatch.context()
    with cache_away as patch:
        patch.setattr(beat_watch, "last_tick", lambda: None)
        clock.now += 2
        stand_in.step()
        assert stand_in.standing_in
    clock.now += 6  # the cache answers again, with the tick from 8 s ago
    stand_in.step()
    assert stand_in.standing_in
    beat_watch.record_tick(clock.now - 0.5)  # a tick made after the stand-in began
    stand_in.step()
    assert not stand_in.standing_in


def test_a_worker_that_never_saw_a_tick_counts_from_its_start(db, monkeypatch):
    monkeypatch.setattr(beat_watch, "ESSENTIAL", ())
    clock = Clock()
    stand_in = beat_watch.StandIn(30, clock=clock)
    clock.now += 10
    assert stand_in.step() == []
    clock.now += 21
    assert stand_in.step() == [] and stand_in.standing_in


def test_beats_ticks_are_counted_only_from_beats_messages(db):
    from ops_console.escalation import tasks

    tasks.fire_due_escalations()  # a direct call, as the stand-in makes: no tick
    assert beat_watch.last_tick() is None
    beat_watch._count_beat_tick(sender=tasks.fire_due_escalations)  # what a worker does for beat's message
    assert time.time() - beat_watch.last_tick() < 5


def test_metrics_show_the_age_of_beats_last_tick(client, db):
    assert "ops_console_beat_last_tick_age_seconds" not in client.get("/metrics").content.decode()
    beat_watch.record_tick(time.time() - 42)
    line = next(line for line in client.get("/metrics").content.decode().splitlines()
                if line.startswith("ops_console_beat_last_tick_age_seconds "))
    assert 42 <= float(line.split()[1]) < 50


@pytest.mark.integration
def test_a_worker_with_no_beat_fires_a_due_level_itself(worker_control, on_call):
    silent_after = 5
    incident = open_incident("P1")  # level 1 is due now; no beat runs in this test
    started = time.monotonic()
    worker_control.start(extra_env={"OPS_CONSOLE_BEAT_STANDIN_AFTER": str(silent_after)})
    wait_until(lambda: Page.objects.filter(incident=incident).exists(), silent_after + 15,
               message="the worker to stand in for beat and fire level 1")
    took = time.monotonic() - started
    level = ScheduledLevel.objects.get(incident=incident, level=1, round=0)
    assert level.status == "fired" and level.fired_by == "engine"
    print(f"level 1 fired by a worker standing in for beat {took:.1f} s after the worker started")


@pytest.mark.integration
def test_beats_message_run_by_a_worker_is_a_tick(celery_worker):
    from ops_console.escalation import tasks

    tasks.fire_due_escalations.delay()  # what beat sends every 2 s
    wait_until(beat_watch.last_tick, 20, message="the worker to record beat's tick")
    assert time.time() - beat_watch.last_tick() < 20
