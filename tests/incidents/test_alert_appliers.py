"""The alert queue's appliers as real Celery worker processes: two of them
apply the partitions side by side and keep each dedup key's order, and a
worker killed in the middle of a batch loses nothing and applies nothing twice."""
import contextlib
import json
import random
import re
from collections import Counter

import psycopg
import pytest

from ops_console.audit.chain import verify
from ops_console.audit.models import AuditEntry
from ops_console.incidents import alert_intake, alert_queue
from ops_console.incidents.models import Alert, Incident, TimelineEvent, WebhookPayload
from tests.conftest import database_url
from tests.waiting import wait_until

from .conftest import am_alert, am_payload

pytestmark = pytest.mark.integration
APPLIED = re.compile(r"drain_alert_queue\[[^]]+\] succeeded in [0-9.e-]+s: (\d+)")


@contextlib.contextmanager
def appliers_held():
    """Every partition's lock held elsewhere (appliers busy): deliveries queue up."""
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, p) FROM generate_series(0, %s) AS p",
                      [alert_queue.LOCK_ID, alert_queue.MAX_PARTITIONS - 1])
        yield
        other.execute("SELECT pg_advisory_unlock_all()")


def receive(*alerts):
    status, data = alert_intake.receive(json.dumps(am_payload(*alerts)).encode(), token=None)
    assert status in (200, 202), data
    return status


def applied_by(worker):
    return sum(int(n) for n in APPLIED.findall(worker.log_path.read_text(errors="replace")))


def all_applied():
    return not WebhookPayload.objects.filter(outcome="queued").exists()


def notices(key, cycles):
    """A key's notices in Alertmanager's order: firing then resolved, `cycles`
    times (a new start time each), and a last firing for odd keys."""
    out = []
    for cycle in range(cycles):
        starts = f"2026-11-23T10:{cycle:02d}:00Z"
        out += [am_alert(fingerprint=key, starts_at=starts),
                am_alert(fingerprint=key, starts_at=starts, status="resolved")]
    return out


def test_two_worker_processes_apply_the_partitions_side_by_side_in_each_keys_order(worker_control):
    keys, cycles = [f"order-{n}" for n in range(24)], 3
    streams = {key: notices(key, cycles) + ([am_alert(fingerprint=key, starts_at="2026-11-23T11:00:00Z")]
                                           if n % 2 else []) for n, key in enumerate(keys)}
    # Interleave the keys' streams at random (each stream stays in its order) and cut them
    # into deliveries of 1 to 8 alerts: most deliveries span both partitions.
    rng, merged = random.Random(18), []
    cursor = dict.fromkeys(keys, 0)
    while any(cursor[key] < len(streams[key]) for key in keys):
        key = rng.choice([key for key in keys if cursor[key] < len(streams[key])])
        merged.append(streams[key][cursor[key]])
        cursor[key] += 1
    deliveries = []
    while merged:
        size = rng.randint(1, 8)
        deliveries.append(merged[:size])
        merged = merged[size:]
    assert {p for alerts in deliveries for p in alert_queue.partitions(
        alert_queue.partitioning(fresh=True).mask(alert_queue.ingest.parse_alertmanager(
            json.dumps(am_payload(*alerts)).encode())))} == {0, 1}

    first, second = worker_control.start(name="a", queues="celery", concurrency=1), \
        worker_control.start(name="b", queues="celery", concurrency=1)
    half = len(deliveries) // 2
    with appliers_held():  # a backlog, as in a storm: both partitions have work waiting
        statuses = [receive(*alerts) for alerts in deliveries[:half]]
    assert set(statuses) == {202}
    alert_queue.ring_bell()
    statuses += [receive(*alerts) for alerts in deliveries[half:]]  # more while the workers apply
    wait_until(all_applied, 60, message="both workers to apply the queue")

    # Both processes applied deliveries (the partitions ran side by side); a task logs
    # what it applied once its partition is empty, a moment after its last commit.
    wait_until(lambda: applied_by(first) > 0 and applied_by(second) > 0, 10, message="both workers' tasks to end")
    for n, key in enumerate(keys):
        incidents = list(Incident.objects.filter(dedup_key=key).order_by("pk"))
        expected = ["resolved"] * cycles + (["triggered"] if n % 2 else [])
        assert [incident.status for incident in incidents] == expected, key
        for incident in incidents[:cycles]:
            assert list(incident.timeline.values_list("kind", flat=True)) == [
                "opened", "alert_fired", "alert_resolved", "status_change"], key
    totals = Counter()
    for summary in WebhookPayload.objects.values_list("summary", flat=True):
        totals.update(summary)
    # Never a resolved notice before its firing one, nor a firing one taken for a late retry.
    assert (totals["resolved_before_firing"], totals["stale"]) == (0, 0)
    assert totals["opened"] == len(keys) * cycles + len(keys) // 2
    assert totals["resolved"] == len(keys) * cycles
    # The appliers open incidents side by side and chain their entries at the end of each
    # batch: still one linear chain, every incident opened once, before it is resolved.
    assert verify().ok
    opened = Counter(AuditEntry.objects.filter(action="incident.opened").values_list("object_id", flat=True))
    assert len(opened) == totals["opened"] and set(opened.values()) == {1}
    first = dict(AuditEntry.objects.filter(action="incident.opened").values_list("object_id", "pk"))
    for object_id, pk in AuditEntry.objects.filter(action="incident.status_changed").values_list("object_id", "pk"):
        assert first[object_id] < pk


def storm(count, size, seed):
    """Deliveries of `size` new alerts with a fifth of each repeating one sent before."""
    rng, sent, out = random.Random(seed), [], []
    for d in range(count):
        alerts = []
        for n in range(size):
            if sent and rng.random() < 0.2:
                alerts.append(rng.choice(sent))
            else:
                alerts.append(am_alert(fingerprint=f"kill-{d}-{n}", starts_at="2026-11-23T10:00:00Z"))
                sent.append(alerts[-1])
        out.append(alerts)
    return out


def intake_lock_held():
    """Whether an applier is inside a batch (its partition's lock is a transaction's)."""
    with psycopg.connect(database_url(), autocommit=True) as other:
        return other.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s",
                             [alert_queue.LOCK_ID]).fetchone()[0] > 0


def test_a_worker_killed_mid_batch_loses_nothing_and_a_fresh_one_applies_everything_once(worker_control):
    deliveries = storm(40, 50, seed=7)
    with appliers_held():
        for alerts in deliveries:
            receive(*alerts)
    doomed = worker_control.start(name="doomed", queues="celery", concurrency=1)
    alert_queue.ring_bell()
    # Killed once it has applied a batch or two and is inside the next one.
    wait_until(lambda: WebhookPayload.objects.filter(outcome="accepted").exists() and intake_lock_held(), 60,
               interval=0.005, message="the worker to be in the middle of a batch")
    doomed.kill()
    left = WebhookPayload.objects.filter(outcome="queued").count()
    assert 0 < left < len(deliveries)

    fresh = worker_control.start(name="fresh", queues="celery", concurrency=1)
    alert_queue.ring_bell()  # beat's part, sooner
    wait_until(all_applied, 60, message="the fresh worker to apply the rest")
    wait_until(lambda: applied_by(fresh) > 0, 10, message="the fresh worker's task to end")

    sent = {alert["fingerprint"] for alerts in deliveries for alert in alerts}
    # Every alert once, and every delivery's alerts each counted once in its summary
    # (a batch applied twice would count them twice): nothing lost, nothing applied twice.
    assert set(Alert.objects.values_list("fingerprint", flat=True)) == sent and Alert.objects.count() == len(sent)
    assert Incident.objects.count() == len(sent)
    assert TimelineEvent.objects.filter(kind="alert_fired").count() == len(sent)
    summaries = [summary for summary in WebhookPayload.objects.order_by("pk").values_list("summary", flat=True)]
    assert [summary["opened"] + summary["repeated"] for summary in summaries] == [len(a) for a in deliveries]
    assert sum(summary["opened"] for summary in summaries) == len(sent)
