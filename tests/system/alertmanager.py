"""Talking to the console the way Alertmanager does (plain HTTP to the live
server, with its bearer token, retrying on 5xx), plus holding a table lock so
requests stay in flight for as long as a test needs."""
import contextlib
import json
import random
import threading
import time
import urllib.error
import urllib.request

import psycopg

from tests.conftest import database_url
from tests.incidents.conftest import am_alert, am_payload

WEBHOOK = "/api/v1/alerts/alertmanager"


def storm_alert(n, service, name="HighErrorRate", status="firing"):
    """Alert number n of a storm: its own fingerprint, labelled with its service."""
    return am_alert(name=name, status=status, fingerprint=f"storm-{n:04d}",
                    starts_at=f"2026-11-23T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
                    labels={"service": service, "instance": f"{service}-{n}"},
                    annotations={"summary": f"{name} on {service} #{n}"})


def post(base_url, token, body, timeout=30):
    """One delivery -> (status, headers, json body or None). Never raises on an HTTP status."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(base_url + WEBHOOK, data=data, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return exc.code, dict(exc.headers), parsed


def deliver(base_url, token, *alerts, attempts=40, pause=0.2, log=None):
    """Alertmanager's retry loop: post until a 2xx, backing off exponentially
    with jitter (at most 2 s); a 4xx is dropped for good, as Alertmanager does.
    Every answer is appended to `log`. Returns the last status."""
    status = None
    for attempt in range(attempts):
        try:
            status, _, _ = post(base_url, token, am_payload(*alerts))
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            status = f"connection: {exc}"
        if log is not None:
            log.append(status)
        if isinstance(status, int) and status < 500:
            return status
        time.sleep(min(2.0, pause * 2 ** attempt) * random.uniform(0.5, 1.5))
    return status


def in_background(functions):
    """Call each function in its own thread, all at once. Returns join(), which
    waits for them and returns their results in order."""
    results = [None] * len(functions)

    def run(i, function):
        results[i] = function()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()

    def join():
        for thread in threads:
            thread.join(120)
        return results

    return join


def in_threads(functions):
    return in_background(functions)()


def get_status(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@contextlib.contextmanager
def table_locked(table):
    """Hold an EXCLUSIVE lock on `table` from another connection: inserts into it
    wait (reads do not) until the block ends. Yields a function counting the
    backends waiting for a lock."""
    with psycopg.connect(database_url(), autocommit=False) as conn:
        conn.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')

        def waiting():
            with psycopg.connect(database_url(), autocommit=True) as probe:
                return probe.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]

        try:
            yield waiting
        finally:
            conn.rollback()
