"""The chaos run's traffic: Alertmanager-shaped deliveries from a seeded plan
(distinct alerts, repeats, resolves), posted the way Alertmanager does (retry
on 5xx and network errors, drop on 4xx), alternating between the web nodes;
and the local receiver that records every page the console sends."""
import json
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WEBHOOK = "/api/v1/alerts/alertmanager"
BASE_TIME = datetime(2026, 12, 1, tzinfo=timezone.utc)
GIVE_UP_AFTER = 120  # seconds of retrying one delivery (Alertmanager would go on; we must end)


@dataclass
class Send:
    """One delivery of the plan: its alerts (fingerprint, status) and what became of it."""

    number: int
    alerts: list
    kind: str  # firing, repeat or resolve
    node: int = 0
    answers: list = field(default_factory=list)  # every answer: status code or "network"
    html_errors: int = 0  # 5xx answered as an HTML page instead of JSON
    accepted: bool = False


def alert(seed, n, paging, status="firing"):
    starts = BASE_TIME + timedelta(seconds=n)
    return {
        "status": status,
        "labels": {"alertname": f"Chaos{n % 7}", "severity": "critical" if paging else "warning",
                   "instance": f"host-{n:05d}", "chaos": str(seed)},
        "annotations": {"summary": f"chaos alert {n}"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else (starts + timedelta(minutes=5)).isoformat()
        .replace("+00:00", "Z"),
        "generatorURL": "http://prometheus.invalid/graph",
        "fingerprint": f"chaos{seed}-{n:05d}",
    }


def payload(alerts):
    return {"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": alerts[0]["status"],
            "receiver": "ops-console", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager.invalid", "alerts": alerts}


class Plan:
    """`distinct` alerts, half of them paging (severity=critical: P1 by the default
    routing), sent in groups of 1-5; about `repeat_share` of them sent again later
    and `resolve_share` resolved later. Reproducible from the seed."""

    def __init__(self, seed, distinct, repeat_share=0.2, resolve_share=0.5):
        rng = random.Random(seed)
        self.seed = seed
        order = list(range(distinct))
        rng.shuffle(order)
        self.paging = set(rng.sample(range(distinct), distinct // 2))
        firing = []
        while order:
            size = rng.randint(1, 5)
            firing.append([n for n in order[:size]])
            order = order[size:]
        self.sends = [("firing", group) for group in firing]
        for n in rng.sample(range(distinct), round(distinct * repeat_share)):
            self._insert_after(rng, n, ("repeat", [n]))
        self.resolved = set(rng.sample(range(distinct), round(distinct * resolve_share)))
        for n in sorted(self.resolved):
            self._insert_after(rng, n, ("resolve", [n]))
        self.distinct = distinct

    def _insert_after(self, rng, n, send):
        first = next(i for i, (kind, group) in enumerate(self.sends) if kind == "firing" and n in group)
        self.sends.insert(rng.randint(first + 1, len(self.sends)), send)

    def build(self):
        made = []
        for number, (kind, group) in enumerate(self.sends):
            status = "resolved" if kind == "resolve" else "firing"
            made.append(Send(number, [alert(self.seed, n, n in self.paging, status) for n in group], kind,
                             node=number % 2))
        return made


class Sender:
    """Posts the plan's deliveries over `duration` seconds with a few threads, as
    Alertmanager would. A repeat or a resolve waits until its alert's first
    delivery was accepted (Alertmanager sends them in that order too)."""

    def __init__(self, urls, token, sends, threads=4):
        self.urls, self.token, self.sends, self.threads = urls, token, sends, threads
        self.queue = queue.Queue()
        self.accepted = set()  # fingerprints whose firing delivery answered 2xx
        self.finished = set()  # fingerprints whose firing delivery is answered or given up
        self.in_flight = [0] * len(urls)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.workers = []

    def start(self, duration):
        self.workers = [threading.Thread(target=self._post_loop, daemon=True) for _ in range(self.threads)]
        for worker in self.workers:
            worker.start()
        threading.Thread(target=self._pace, args=(duration,), daemon=True).start()

    def _pace(self, duration):
        started, waiting = time.monotonic(), list(self.sends)
        gap = duration / max(len(waiting), 1)
        k = 0
        while waiting:
            send = waiting.pop(0)
            fingerprints = [a["fingerprint"] for a in send.alerts]
            if send.kind != "firing" and not all(f in self.accepted for f in fingerprints):
                if not all(f in self.finished for f in fingerprints):
                    waiting.append(send)  # its alert's first delivery is still being retried
                # else: its alert was never accepted: Alertmanager would not resolve it either
                if all(s.kind != "firing" for s in waiting):
                    time.sleep(0.2)
                continue
            time.sleep(max(0.0, started + k * gap - time.monotonic()))
            self.queue.put(send)
            k += 1
        for _ in self.workers:
            self.queue.put(None)
        for worker in self.workers:
            worker.join()
        self.done.set()

    def _post_loop(self):
        while (send := self.queue.get()) is not None:
            self.deliver(send)

    def deliver(self, send):
        try:
            self._deliver(send)
        finally:
            if send.kind == "firing":
                with self.lock:
                    self.finished.update(a["fingerprint"] for a in send.alerts)

    def _deliver(self, send):
        body = json.dumps(payload(send.alerts)).encode()
        deadline, attempt = time.monotonic() + GIVE_UP_AFTER, 0
        while time.monotonic() < deadline:
            status = self.post(send, body)
            send.answers.append(status)
            if isinstance(status, int) and status < 500:
                send.accepted = 200 <= status < 300
                if send.accepted and send.kind == "firing":
                    with self.lock:
                        self.accepted.update(a["fingerprint"] for a in send.alerts)
                return
            time.sleep(min(2.0, 0.2 * 2 ** attempt) * random.uniform(0.5, 1.5))
            attempt += 1

    def post(self, send, body):
        request = urllib.request.Request(self.urls[send.node] + WEBHOOK, data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        with self.lock:
            self.in_flight[send.node] += 1
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 and "text/html" in exc.headers.get("Content-Type", ""):
                send.html_errors += 1
            return exc.code
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return "network"
        finally:
            with self.lock:
                self.in_flight[send.node] -= 1


class Receiver:
    """Where the console's webhook pages arrive: records path, body and
    Idempotency-Key of every request and answers 200."""

    def __init__(self):
        self.requests = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    data = json.loads(body)
                except ValueError:
                    data = None
                received.append({"at": time.time(), "path": self.path, "json": data,
                                 "key": self.headers.get("Idempotency-Key")})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
