"""Alertmanager webhook ingestion: batches of 1 and 50 alerts, 20 % of them
repeats of alerts already sent (Alertmanager re-sends), through the whole
Django stack (routing, token, validation, incidents, timeline, audit,
escalation hooks) against PostgreSQL, next to a raw psycopg insert of the same
alert rows in the same run. A rate counts until every alert is applied (every
delivery's incidents open), not until the last answer: a delivery answered 202
is stored but may still be queued (alert_queue.py). The console holds a history
of applied deliveries first (--history), with the planner's statistics taken
while nothing was queued, as on a console that has been running; beside one
alert per request it measures the web path alone (nothing applied), where that
case's bound lies, and beside each case of one incident per alert in batches
the record alone: the rows that case wrote, written again by PostgreSQL with
nothing else (record_floor). Prints a Markdown section.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python bench/ingest.py [--short] [--only CASE ...]
(`python3 -m devstack bench ingest` starts the database for you and runs every case.) Only ever
against a database to throw away: it opens and deletes incidents, and rewrites its own audit entries.
CASE is routing:console:batch, e.g. fingerprint:gunicorn:50 or grouped:client:1."""
import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
from functools import partial
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")
os.environ.setdefault("OPS_CONSOLE_HTTPS", "false")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from devstack import services  # noqa: E402
from django.test import Client  # noqa: E402

from django.conf import settings  # noqa: E402

from ops_console.audit.models import AuditEntry  # noqa: E402
from ops_console.escalation.models import Escalation, ScheduledLevel  # noqa: E402
from ops_console.incidents.intake_config import do_create_token  # noqa: E402
from ops_console.incidents.models import (Alert, AlertRouting, ApiToken, Incident, TimelineEvent,  # noqa: E402
                                          WebhookPayload)

REPEAT_SHARE = 0.2
GOAL = 1000  # alerts/s
GUNICORN_WORKERS, SENDERS, WORKER_PROCESSES = 3, 4, 2


def make_alert(n, base):
    return {
        "status": "firing",
        "labels": {"alertname": f"BenchAlert{n % 7}", "severity": "warning", "job": "backend", "instance": f"i-{n}"},
        "annotations": {"summary": f"Bench alert {n}", "description": "Synthetic load for bench/ingest.py"},
        "startsAt": (base + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": f"bench{base.timestamp():.0f}-{n:08x}",
    }


def batches(total, size, seed):
    """Batches whose alerts are 80 % new and 20 % already sent."""
    rng = random.Random(seed)
    base = datetime.now(timezone.utc).replace(microsecond=0)
    sent, n, out = [], 0, []
    while sum(len(b) for b in out) < total:
        batch = []
        for _ in range(size):
            if sent and rng.random() < REPEAT_SHARE:
                batch.append(rng.choice(sent))
            else:
                alert = make_alert(n, base)
                n += 1
                batch.append(alert)
                sent.append(alert)
        out.append(batch)
    return out


def payload(alerts):
    return {"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing", "receiver": "bench",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": alerts}


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_console(all_batches, raw_token):
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {raw_token}")
    bodies = [json.dumps(payload(b)) for b in all_batches]
    latencies, queued = [], 0
    start = time.perf_counter()
    for body in bodies:
        t0 = time.perf_counter()
        response = client.post("/api/v1/alerts/alertmanager", data=body, content_type="application/json")
        latencies.append(time.perf_counter() - t0)
        # One sender, yet a 202 can come: the worker, rung by the run before, may hold the lock for a moment.
        if response.status_code not in (200, 202):
            raise SystemExit(f"ingestion failed: {response.status_code} {response.content[:500]!r}")
        queued += response.status_code == 202
    answered = time.perf_counter() - start
    wait_until_applied()
    return time.perf_counter() - start, answered, latencies, queued


class Gunicorn:
    """The production web server on loopback, with our environment."""

    def __init__(self):
        self.port = services.free_port()
        self.log = Path(tempfile.mkdtemp(prefix="bench-gunicorn-")) / "gunicorn.log"
        argv = [str(Path(sys.executable).parent / "gunicorn"), "ops_console.wsgi", "--bind",
                f"127.0.0.1:{self.port}", "--workers", str(GUNICORN_WORKERS), "--log-level", "warning"]
        # Persistent connections, as in production: a new PostgreSQL backend per request costs more than the work.
        env = dict(os.environ, ALLOWED_HOSTS="127.0.0.1,localhost", LOG_LEVEL="WARNING", DB_CONN_MAX_AGE="60")
        self.process = services.Process("gunicorn", argv, env=env, log=self.log).start()
        services.wait_for(lambda: services.port_open(self.port), 30, "gunicorn")

    def stop(self):
        self.process.stop()


class Worker:
    """A Celery worker, as in production: in a storm it applies the queued
    deliveries (alert_queue.drain, one applier per partition) while the web
    processes answer. Two processes, as the chaos cluster's workers (compose runs 4)."""

    def __init__(self):
        self.log = Path(tempfile.mkdtemp(prefix="bench-worker-")) / "worker.log"
        argv = [str(Path(sys.executable).parent / "celery"), "-A", "ops_console", "worker", "-Q", "celery",
                "--concurrency", str(WORKER_PROCESSES), "-l", "info", "-n", f"bench-ingest-{os.getpid()}@%h"]
        self.process = services.Process("worker", argv, env=dict(os.environ), log=self.log).start()
        # Measured from when it listens: a worker still starting would be counted as a slow drain.
        services.wait_for(lambda: "ready." in self.log.read_text(errors="replace"), 60, "the Celery worker")

    def stop(self):
        self.process.stop()


def wait_until_applied(timeout=300):
    """Until no delivery is left queued: then every alert is in."""
    deadline = time.monotonic() + timeout
    while WebhookPayload.objects.filter(outcome=WebhookPayload.Outcome.QUEUED).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"deliveries still queued after {timeout} s")
        time.sleep(0.005)


def send_all(server, requests):
    """Send (method, path, body, headers) requests from SENDERS concurrent
    senders, a connection each, as Alertmanager does. Returns (seconds,
    latencies, statuses)."""
    latencies, statuses, lock = [], [], threading.Lock()
    queue = list(reversed(requests))

    def sender():
        while True:
            with lock:
                if not queue:
                    return
                method, path, body, headers = queue.pop()
            t0 = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            with lock:
                latencies.append(time.perf_counter() - t0)
                statuses.append(response.status)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies, statuses


def run_gunicorn(server, all_batches, raw_token):
    """SENDERS concurrent senders (Alertmanager posts groups in parallel)."""
    headers = {"Authorization": f"Bearer {raw_token}", "Content-Type": "application/json"}
    start = time.perf_counter()
    answered, latencies, statuses = send_all(server, [
        ("POST", "/api/v1/alerts/alertmanager", json.dumps(payload(b)).encode(), headers) for b in all_batches])
    if set(statuses) - {200, 202}:
        raise SystemExit(f"ingestion failed: statuses {sorted(set(statuses))}; see {server.log}")
    wait_until_applied()
    return time.perf_counter() - start, answered, latencies, statuses.count(202)


def request_floor(server, count):
    """Requests per second for /healthz (no database) through the same server
    and senders: the most a delivery of one alert could ever reach."""
    took, _, statuses = send_all(server, [("GET", "/healthz", None, {})] * count)
    assert set(statuses) == {200}, statuses
    return count / took


def run_raw(all_batches):
    """The floor: the same alert rows inserted with plain psycopg into a
    regular (logged) table, one transaction per batch, repeats counted by the
    same unique key."""
    latencies = []
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_alert")
        conn.execute("CREATE TABLE raw_alert (id bigserial PRIMARY KEY, fingerprint text, starts_at timestamptz, "
                     "status text, labels jsonb, annotations jsonb, received_count int DEFAULT 1, "
                     "UNIQUE (fingerprint, starts_at))")
        start = time.perf_counter()
        for batch in all_batches:
            t0 = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO raw_alert (fingerprint, starts_at, status, labels, annotations) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (fingerprint, starts_at) "
                    "DO UPDATE SET received_count = raw_alert.received_count + 1",
                    [(a["fingerprint"], a["startsAt"], a["status"], json.dumps(a["labels"]),
                      json.dumps(a["annotations"])) for a in batch])
            latencies.append(time.perf_counter() - t0)
        took = time.perf_counter() - start
        conn.execute("DROP TABLE raw_alert")
    return took, latencies


# The record of an opened incident, table by table in the order the applier writes it, and how a
# case's rows are found in each (floor_ids: the case's incidents).
RECORD = [(Incident, "id IN (SELECT id FROM floor_ids)"),
          (Incident.services.through, "incident_id IN (SELECT id FROM floor_ids)"),
          (TimelineEvent, "incident_id IN (SELECT id FROM floor_ids)"),
          (Escalation, "incident_id IN (SELECT id FROM floor_ids)"),
          (ScheduledLevel, "incident_id IN (SELECT id FROM floor_ids)"),  # none for the bench's P3 alerts
          (Alert, "incident_id IN (SELECT id FROM floor_ids)"),
          (AuditEntry, f"object_type = '{Incident._meta.label_lower}' AND object_id IN (SELECT id::text FROM floor_ids)")]


def _backend_cpu(conn):
    """CPU seconds of this connection's PostgreSQL backend so far (None when it runs elsewhere)."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def record_floor(prefix):
    """What PostgreSQL alone spends on the record of a case: every row the
    case's alerts left (incident, services, timeline, escalation and its
    levels, alert, audit entry) is copied out, deleted and COPYed back, byte for byte, by one
    connection in one transaction, with the tables' indexes, triggers and
    foreign keys as they are and no Python between the rows. The audit
    entries go back unchanged, so the chain still verifies. Returns
    (incidents, rows, seconds, backend CPU seconds or None)."""
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE floor_ids AS SELECT DISTINCT incident_id AS id FROM "
                     f"{Alert._meta.db_table} WHERE fingerprint LIKE %s AND incident_id IS NOT NULL", [f"{prefix}%"])
        incidents = conn.execute("SELECT count(*) FROM floor_ids").fetchone()[0]
        tables, rows = [], 0
        for model, where in RECORD:
            table = model._meta.db_table
            columns = ", ".join(f'"{field.column}"' for field in model._meta.concrete_fields
                                if not getattr(field, "generated", False))
            data = bytearray()
            with conn.cursor().copy(f"COPY (SELECT {columns} FROM {table} WHERE {where} ORDER BY id) "
                                    "TO STDOUT (FORMAT BINARY)") as copy:
                for chunk in copy:
                    data += chunk
            rows += conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]
            tables.append((table, columns, where, bytes(data)))
        audit_table = AuditEntry._meta.db_table
        with conn.transaction():  # the append-only trigger is off only inside this transaction
            conn.execute(f"ALTER TABLE {audit_table} DISABLE TRIGGER USER")
            for table, _, where, _ in reversed(tables):
                conn.execute(f"DELETE FROM {table} WHERE {where}")
            conn.execute(f"ALTER TABLE {audit_table} ENABLE TRIGGER USER")
        for table, _, _, _ in tables:
            conn.execute(f"VACUUM {table}")  # their space free again, as before the case wrote them
        cpu, start = _backend_cpu(conn), time.perf_counter()
        with conn.transaction():
            for table, columns, _, data in tables:
                with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(data)
        took = time.perf_counter() - start
        after = _backend_cpu(conn)
        conn.execute("DROP TABLE floor_ids")
    return incidents, rows, took, (after - cpu if cpu is not None and after is not None else None)


def cleanup(prefix):
    incidents = Incident.objects.filter(alerts__fingerprint__startswith=prefix).distinct()
    Incident.objects.filter(pk__in=list(incidents.values_list("pk", flat=True))).delete()
    Alert.objects.filter(fingerprint__startswith=prefix).delete()
    WebhookPayload.objects.filter(source="alertmanager", body__contains=prefix).delete()


HISTORY_MARK = "bench-history"


def load_history(count):
    """A console that has been running: `count` applied deliveries, and the
    planner's statistics taken while nothing was queued (as autovacuum takes
    them on a quiet day), so a storm's backlog is news to the planner."""
    table = WebhookPayload._meta.db_table
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        with conn.cursor().copy(f"COPY {table} (source, received_at, body, outcome, error, summary, attempts, "
                                "pending, partitioning) FROM STDIN") as copy:
            now = datetime.now(timezone.utc)
            for n in range(count):
                copy.write_row(("alertmanager", now - timedelta(seconds=count - n), f'{{"{HISTORY_MARK}": {n}}}',
                                WebhookPayload.Outcome.ACCEPTED, "", "{}", 0, 0, ""))
        conn.execute(f"ANALYZE {table}")


def drop_history():
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f"DELETE FROM {WebhookPayload._meta.db_table} WHERE body LIKE %s", [f'{{"{HISTORY_MARK}"%'])


def stored_only(server, all_batches, raw_token):
    """The web path alone (token, validation, storing the body; nothing
    applied): every partition's lock held here, so each request stores its
    delivery and answers 202. Requests per second until the last answer;
    then the locks go and the worker applies the backlog (not timed)."""
    from ops_console.incidents import alert_queue

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s, p) FROM generate_series(0, %s) AS p",
                       [alert_queue.LOCK_ID, alert_queue.MAX_PARTITIONS - 1])
        headers = {"Authorization": f"Bearer {raw_token}", "Content-Type": "application/json"}
        took, _, statuses = send_all(server, [("POST", "/api/v1/alerts/alertmanager", json.dumps(payload(b)).encode(),
                                               headers) for b in all_batches])
        holder.execute("SELECT pg_advisory_unlock_all()")
    if set(statuses) != {202}:
        raise SystemExit(f"storing failed: statuses {sorted(set(statuses))}; see {server.log}")
    alert_queue.ring_bell()
    wait_until_applied()
    return len(all_batches) / took


# Issue 18's goals, each judged against its floor measured beside it in the same run:
# (routing label, console, batch size) -> (share of the floor, the floor's name).
GOALS = {("one incident per alert (fingerprint)", "gunicorn", 50): (0.25, "raw insert"),
         ("one incident per alert (fingerprint)", "gunicorn", 1): (0.50, "request floor"),
         ("alerts grouped by alertname+job", "gunicorn", 1): (0.50, "request floor")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--only", action="append", default=[], metavar="ROUTING:CONSOLE:BATCH",
                        help="run only these cases, e.g. fingerprint:gunicorn:50 or grouped:client:1 (repeatable)")
    parser.add_argument("--history", type=int, default=None,
                        help="applied deliveries already stored before the cases (default 100,000; 2,000 short)")
    args = parser.parse_args()
    total = 150 if args.short else 5000
    history = args.history if args.history is not None else (2000 if args.short else 100_000)
    token, raw = do_create_token("bench-ingest", acting_user=None)
    routing = AlertRouting.current()
    server, worker = Gunicorn(), Worker()
    rows, records, web_path = [], [], None
    try:
        load_history(history)
        # Warm gunicorn's workers (imports, connections) before anything is measured through them.
        request_floor(server, 300)
        warm_up = batches(30, 1, seed=0)
        send_all(server, [("POST", "/api/v1/alerts/alertmanager", json.dumps(payload(b)).encode(),
                           {"Authorization": f"Bearer {raw}", "Content-Type": "application/json"}) for b in warm_up])
        wait_until_applied()
        cleanup(warm_up[0][0]["fingerprint"].split("-")[0])
        time.sleep(1.1)
        for label, dedup in (("one incident per alert (fingerprint)", ""),
                             ("alerts grouped by alertname+job", "alertname,job")):
            AlertRouting.objects.filter(pk=1).update(dedup_labels=dedup)
            for mode in ("test client, 1 sender", f"gunicorn {GUNICORN_WORKERS} workers, {SENDERS} senders"):
                for size in (1, 50):
                    case = f"{'grouped' if dedup else 'fingerprint'}:{'gunicorn' if 'gunicorn' in mode else 'client'}:{size}"
                    if args.only and case not in args.only:
                        continue
                    # One alert per request: enough requests that a run is not mostly noise (the short mode only checks it runs).
                    count = (total // 5 if args.short else total // 2) if size == 1 else total
                    all_batches = batches(count, size, seed=size)
                    alerts = sum(len(b) for b in all_batches)
                    prefix = all_batches[0][0]["fingerprint"].split("-")[0]
                    on_gunicorn = mode.startswith("gunicorn")
                    run = partial(run_gunicorn, server) if on_gunicorn else run_console
                    # One alert per request through gunicorn is bounded by the web stack: its floor is
                    # /healthz through the same server and senders, measured just before it.
                    floor = request_floor(server, max(count, 500)) if on_gunicorn and size == 1 else None
                    console_s, answered_s, console_lat, queued = run(all_batches, raw)
                    raw_s, raw_lat = run_raw(all_batches)
                    rows.append((label, mode, size, alerts, alerts / console_s, alerts / answered_s,
                                 f"{queued / len(all_batches):.0%}", percentile(console_lat, 99) * 1000,
                                 alerts / raw_s, percentile(raw_lat, 99) * 1000, floor))
                    if not dedup and size > 1:
                        records.append((mode, size, alerts, alerts / console_s, alerts / raw_s, *record_floor(prefix)))
                    cleanup(prefix)
                    time.sleep(1.1)  # fresh fingerprints (they carry the second they were made)
                    if case == "fingerprint:gunicorn:1":
                        # Where the bound of one alert per request lies: the web path alone, same size.
                        alone = batches(count, 1, seed=3)
                        web_floor = request_floor(server, max(count, 500))
                        web_path = (stored_only(server, alone, raw), web_floor)
                        cleanup(alone[0][0]["fingerprint"].split("-")[0])
                        time.sleep(1.1)
    finally:
        server.stop()
        worker.stop()
        drop_history()
        AlertRouting.objects.filter(pk=1).update(dedup_labels=routing.dedup_labels)
        ApiToken.objects.filter(pk=token.pk).delete()
    print("## Alert ingestion (Alertmanager webhook)\n")
    print(f"{'Short' if args.short else 'Full'} mode; {int(REPEAT_SHARE * 100)} % of each batch repeats alerts "
          f"already sent. Console: the whole path (token, validation, storing the body, then incidents, timeline, "
          "audit, escalation hooks) through Django's test client in this process (one sender) or a real gunicorn "
          f"on loopback (DB_CONN_MAX_AGE=60), warmed up, with concurrent senders and one Celery worker of "
          f"{WORKER_PROCESSES} processes (the appliers of the {getattr(settings, 'ALERT_APPLIERS', 1)} "
          f"partitions), on a console holding {history:,} applied deliveries whose statistics were taken while "
          "nothing was queued. *Applied*: alerts / time from the first request until no delivery is left queued. "
          "*Answered*: alerts / time until the last answer. "
          "*202*: the share of deliveries answered \"stored, queued\" (older deliveries waited in their partition "
          "or an applier held its lock; the worker applied them). Raw: psycopg `INSERT ... ON CONFLICT` of the "
          "same alert rows into a plain table, one transaction per batch, one sender. Request floor: `GET "
          "/healthz` (no database) through the same gunicorn and senders (at least 500 requests), just before "
          "the run of one alert per request. p99 is per request.\n")
    print("| routing | console | batch | alerts | applied alerts/s | answered alerts/s | 202 | console p99 ms "
          "| raw alerts/s | raw p99 ms | request floor/s | applied / floor | ≥ 1,000/s | issue 18 goal |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    verdicts = []
    for label, mode, size, alerts, rate, answered, queued, p99, raw_rate, raw_p99, floor in rows:
        share = rate / (floor or raw_rate)
        goal = GOALS.get((label, mode.split()[0], size))
        verdict = "—"
        if goal:
            wanted, floor_name = goal
            verdict = (f"met (≥ {wanted:.0%} of the {floor_name})" if share >= wanted else
                       f"missed: {share:.1%} of the {floor_name}, goal {wanted:.0%} (gap {wanted - share:.1%} points, "
                       f"{wanted * (floor or raw_rate) - rate:,.0f} alerts/s)")
            verdicts.append(f"- {label}, batches of {size}, {mode}: {verdict}")
        print(f"| {label} | {mode} | {size} | {alerts} | {rate:,.0f} | {answered:,.0f} | {queued} | {p99:.1f} "
              f"| {raw_rate:,.0f} | {raw_p99:.1f} | {f'{floor:,.0f}' if floor else '—'} "
              f"| {share:.1%} of {'floor' if floor else 'raw'} | {'met' if rate >= GOAL else 'missed'} | {verdict} |")
    print("\nIssue 18's goals in this run (each beside its floor):\n")
    print("\n".join(verdicts))
    if web_path:
        stored, web_floor = web_path
        print(f"\nThe web path alone, one alert per request (token, validation, storing the body; every "
              f"partition's lock held so that nothing is applied, each answer a 202): {stored:,.0f} requests/s "
              f"against `GET /healthz` {web_floor:,.0f}/s measured just before, {stored / web_floor:.1%} of the "
              "floor: the most one alert per request could reach with the appliers free.")
    if records:
        print("\nThe record alone, for each case of one incident per alert in batches: the rows the case left "
              "(incident, services, timeline events, escalation, alert, audit entry) deleted and written again "
              "byte for byte by one connection in one transaction, COPY, with the tables' indexes, triggers and "
              "foreign keys and no Python (`record_floor`). Rates count the case's alerts, repeats included, as the "
              "applied and raw rates do (a repeat leaves no row of its own). *CPU budget*: the CPU per alert that "
              f"a quarter of the raw rate leaves on this machine's {os.cpu_count()} cores for the web request, the "
              "applier and PostgreSQL together; *record's CPU*: what PostgreSQL's backend alone spent per alert "
              "writing the record.\n")
        print("| console | batch | incidents | rows | record alerts/s | record / raw | applied / record "
              "| CPU budget ms/alert (25 % of raw) | record's CPU ms/alert |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for mode, size, alerts, rate, raw_rate, incidents, stored, took, cpu in records:
            written = alerts / took
            budget = os.cpu_count() / (0.25 * raw_rate) * 1000
            print(f"| {mode} | {size} | {incidents:,} | {stored:,} | {written:,.0f} | {written / raw_rate:.1%} "
                  f"| {rate / written:.1%} | {budget:.3f} | {f'{1000 * cpu / alerts:.3f}' if cpu else '—'} |")


if __name__ == "__main__":
    main()
