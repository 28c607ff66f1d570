"""A worker killed mid-delivery, for real: the receiver holds the webhook
open, the worker's process group is SIGKILLed, and the periodic retry on
another worker sends the page once more, with the same Idempotency-Key, within
seconds after the claim's lease, and never a third time."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ops_console.escalation import engine, tasks
from ops_console.escalation.models import Delivery
from tests.waiting import wait_until

from .conftest import contact, json_url, open_incident

pytestmark = pytest.mark.integration
LEASE = 10  # the smallest the settings allow: the test waits for it once


class HoldingReceiver:
    """Records every POST; holds the first one open until released."""

    def __init__(self):
        self.requests, self.release = [], threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"at": time.monotonic(), "headers": dict(self.headers),
                                          "json": json.loads(body)})
                if len(receiver.requests) == 1:
                    receiver.release.wait(60)
                try:
                    self.send_response(200)
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def holding_receiver():
    receiver = HoldingReceiver()
    yield receiver
    receiver.close()


def test_a_worker_killed_mid_delivery_leads_to_one_more_send_with_the_same_key(worker_control, on_call,
                                                                                holding_receiver):
    hook = holding_receiver
    env = {"ESCALATION_DELIVERY_LEASE_SECONDS": str(LEASE)}
    contact(on_call["oncall-sre"], json_url(hook.url))
    first_worker = worker_control.start(concurrency=1, extra_env=env)
    incident = open_incident("P1")
    engine.fire_due(incident.escalation.started_at)  # on commit: the deliveries' task goes to the worker
    wait_until(lambda: hook.requests, 30, message="the worker's first attempt to reach the receiver")
    delivery = Delivery.objects.get(page__incident=incident)
    assert (delivery.status, delivery.attempts) == ("sending", 1)
    assert delivery.claimed_by.rsplit(":", 1)[1].isdigit()  # host:pid of the pool process sending it
    first_worker.kill()  # the whole process group, mid-send
    killed = time.monotonic()
    hook.release.set()
    worker_control.start(concurrency=1, extra_env=env)

    def sent_again():
        tasks.retry_deliveries.delay()  # what beat sends every 5 s
        return len(hook.requests) >= 2

    wait_until(sent_again, LEASE + 20, interval=1, message="the page to be sent again after the lease")
    resent_after = hook.requests[1]["at"] - killed
    wait_until(lambda: Delivery.objects.get(pk=delivery.pk).status == "delivered", 20,
               message="the second attempt to be recorded")
    for _ in range(3):  # more retry ticks find nothing to send
        tasks.retry_deliveries.delay()
    time.sleep(2)  # on purpose: a third send would come within this time; none may
    first, second = hook.requests
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"] == str(delivery.key)
    assert first["json"]["delivery_id"] == second["json"]["delivery_id"] == str(delivery.key)
    assert [first["json"]["attempt"], second["json"]["attempt"]] == ["1", "2"]
    # Retry ticks came every second from the kill on: the claim was left alone while it was fresh...
    assert second["at"] - first["at"] >= LEASE - 1
    # ... and sent again within seconds once it was not.
    assert resent_after < LEASE + 8, f"sent again {resent_after:.1f} s after the worker was killed"
    print(f"page sent again {resent_after:.1f} s after its worker was killed (lease {LEASE} s)")
