"""Beat watched, and stood in for. Each beat-sent escalation tick records when
it ran (in the shared cache); every worker runs a thread that, once no tick
came for BEAT_STANDIN_AFTER seconds, does beat's essential work itself:
escalation firing and the reconcilers, at their beat intervals. Those tasks
are safe in several processes at once (conditional claims, row locks), so
workers standing in beside each other, or beside a beat that came back, do
nothing twice. /metrics shows the age of the last tick."""
import logging
import threading
import time

from celery.signals import task_prerun, worker_ready, worker_shutdown
from celery.utils.imports import symbol_by_name
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

TICK_KEY = "beat:last-tick"
# The beat task whose runs count as ticks: the most frequent, and the one paging waits for.
TICK_TASK = "ops_console.escalation.tasks.fire_due_escalations"
# Beat's entries that keep paging and runs going; the hourly clean-up and the witness wait for beat.
ESSENTIAL = ("escalations-fire-due", "escalations-audit", "notifications-retry", "runbooks-reconcile",
             "runbooks-fire-schedules", "incidents-drain-alert-queue")
CHECK_EVERY = 1.0  # seconds between looks at the last tick


def record_tick(at=None):
    try:
        cache.set(TICK_KEY, at if at is not None else time.time(), timeout=None)
    except Exception as exc:  # noqa: BLE001 - Redis down: the broker is too, and the tick is only a hint
        log.warning("could not record beat's tick: %s", exc)


def last_tick():
    """Epoch seconds of the last beat tick; None if unknown (never ticked, or the cache is unreachable)."""
    try:
        return cache.get(TICK_KEY)
    except Exception:  # noqa: BLE001 - as above
        return None


@task_prerun.connect
def _count_beat_tick(sender=None, **kwargs):
    # Only runs from a message reach here (a direct call, as the stand-in makes, sends no signal).
    if getattr(sender, "name", None) == TICK_TASK:
        record_tick()


class StandIn(threading.Thread):
    """Runs the essential beat entries in this process while beat is silent."""

    def __init__(self, silent_after, *, clock=time.time):
        super().__init__(name="beat-stand-in", daemon=True)
        self.silent_after, self.clock = silent_after, clock
        self.started_at = clock()
        self.stopping = threading.Event()
        self.next_due = {}   # entry name -> epoch seconds; empty while beat ticks
        self.standing_in = False
        self.standing_in_since = None

    def run(self):
        while not self.stopping.wait(CHECK_EVERY):
            try:
                self.step()
            finally:
                close_old_connections()  # a connection the database dropped is replaced on the next use

    def beat_silent(self, now):
        tick = last_tick()
        if self.standing_in:
            # Only a tick made after we began standing in says beat's messages flow again. After a
            # broker restart the cache answers with the tick from before it, seconds old, while beat
            # and the workers are still reconnecting: stopping then would leave nobody firing.
            return tick is None or tick < self.standing_in_since
        # Never ticked (a new Redis, no beat at all) or the cache is away: count from this worker's start.
        return now - (tick if tick is not None else self.started_at) > self.silent_after

    def step(self):
        now = self.clock()
        if not self.beat_silent(now):
            if self.standing_in:
                log.warning("beat ticks again: this worker stops standing in for it")
            self.standing_in, self.next_due = False, {}
            return []
        if not self.standing_in:
            log.warning("no beat tick for %d s: this worker does beat's essential work until it comes back",
                        self.silent_after)
            self.standing_in, self.standing_in_since = True, now
        ran = []
        for name in ESSENTIAL:
            if self.next_due.get(name, 0) > now:
                continue
            entry = settings.CELERY_BEAT_SCHEDULE[name]
            self.next_due[name] = now + entry["schedule"].total_seconds()
            try:
                # In this thread: no broker, no pool needed. (Beat's task names are their import paths.)
                symbol_by_name(entry["task"]).run()
                ran.append(name)
            except Exception:  # noqa: BLE001 - one failing entry must not stop the others
                log.exception("standing in for beat: %s failed", name)
        return ran

    def stop(self):
        self.stopping.set()


_standin = None


@worker_ready.connect
def _start_standin(**kwargs):
    global _standin
    if settings.BEAT_STANDIN_AFTER > 0 and _standin is None:
        _standin = StandIn(settings.BEAT_STANDIN_AFTER)
        _standin.start()


@worker_shutdown.connect
def _stop_standin(**kwargs):
    if _standin is not None:
        _standin.stop()


class BeatTickCollector:
    def collect(self):
        tick = last_tick()
        if tick is not None:
            yield GaugeMetricFamily("ops_console_beat_last_tick_age_seconds",
                                    "Seconds since beat's escalation tick last ran on a worker",
                                    value=max(0.0, time.time() - tick))

    def describe(self):
        return []


REGISTRY.register(BeatTickCollector())
