"""The beat task writes the chain head out of the database when it moved: a line
in the witness file, a POST to the witness URL, two gauges on /metrics."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from ops_console.audit.tasks import witness_chain_head


def witness_lines():
    path = Path(django_settings.AUDIT_WITNESS_FILE)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_head_is_witnessed_only_when_it_moved(entries):
    assert witness_chain_head() is None and witness_lines() == []  # an empty log has no head
    made = entries(3)
    assert witness_chain_head() == made[-1].pk
    assert witness_chain_head() is None  # nothing new: no line
    newer = entries(2)
    witness_chain_head()
    lines = witness_lines()
    assert [(line["id"], line["hash"]) for line in lines] == [(made[-1].pk, made[-1].hash),
                                                              (newer[-1].pk, newer[-1].hash)]
    assert all(line["at"].endswith("+00:00") for line in lines)


def test_the_beat_schedule_rings_it_every_minute():
    entry = django_settings.CELERY_BEAT_SCHEDULE["audit-witness-head"]
    assert entry["task"] == "ops_console.audit.tasks.witness_chain_head"
    assert entry["schedule"].total_seconds() == 60


def test_a_line_that_cannot_be_written_is_tried_again(entries, settings, tmp_path):
    made = entries(1)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    settings.AUDIT_WITNESS_FILE = str(blocker / "audit_witness.jsonl")
    with pytest.raises(OSError):
        witness_chain_head()
    settings.AUDIT_WITNESS_FILE = str(tmp_path / "audit_witness.jsonl")
    assert witness_chain_head() == made[0].pk


@pytest.fixture
def receiver():
    """A real HTTP server on a free local port that keeps what was POSTed to it."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers.get("Authorization"), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.received = received
    yield server
    server.shutdown()
    server.server_close()


def test_the_head_is_posted_to_the_witness_url(entries, settings, receiver):
    settings.AUDIT_WITNESS_URL = f"http://127.0.0.1:{receiver.server_port}/heads"
    settings.AUDIT_WITNESS_TOKEN = "witness-token"
    made = entries(2)
    witness_chain_head()
    witness_chain_head()  # the head did not move: nothing more is sent
    assert receiver.received == [("/heads", "Bearer witness-token", witness_lines()[0])]
    assert receiver.received[0][2]["id"] == made[-1].pk


def test_a_witness_url_that_is_down_does_not_stop_the_file(entries, settings, caplog):
    from devstack import services

    settings.AUDIT_WITNESS_URL = f"http://127.0.0.1:{services.free_port()}/heads"
    made = entries(1)
    assert witness_chain_head() == made[0].pk
    assert witness_lines()[0]["id"] == made[0].pk
    assert "did not take entry" in caplog.text


def test_metrics_show_the_last_witness(client, entries):
    from ops_console.audit.models import ChainWitness

    def sample(name):
        text = client.get("/metrics").content.decode()
        return float(next(line for line in text.splitlines() if line.startswith(name + " ")).split()[1])

    assert sample("ops_console_audit_witnessed_entry") == 0
    assert sample("ops_console_audit_witnessed_at_seconds") == 0
    made = entries(2)
    witness_chain_head()
    mark = ChainWitness.objects.get()
    assert sample("ops_console_audit_witnessed_entry") == made[-1].pk
    assert sample("ops_console_audit_witnessed_at_seconds") == pytest.approx(mark.witnessed_at.timestamp())
