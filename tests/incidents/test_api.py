"""The intake endpoints read a body however it is sent: with Content-Length or chunked.
Chunked bodies are sent to a real gunicorn, the production server (Django's test server
reads no body that comes without Content-Length)."""
import http.client
import json
import os
import sys

import pytest

from devstack import services
from ops_console.incidents.ingest import MAX_BODY_BYTES
from ops_console.incidents.models import Incident, WebhookPayload
from tests.conftest import REPO, database_url
from tests.waiting import wait_until

from .conftest import AM_URL, am_alert, am_payload

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """The console under gunicorn on the test database: its address as (host, port)."""
    port = services.free_port()
    env = dict(os.environ, DATABASE_URL=database_url(), DJANGO_ALLOW_ASYNC_UNSAFE="")
    process = services.Process("web", [sys.executable, "-m", "gunicorn", "ops_console.wsgi", "--bind",
                                       f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"],
                               env=env, cwd=str(REPO), log=tmp_path / "web.log").start()
    wait_until(lambda: services.port_open(port), 30, message="gunicorn")
    yield "127.0.0.1", port
    process.stop()


def post_chunked(address, token, body, chunk_size=256):
    """POST body with Transfer-Encoding: chunked and no Content-Length -> (status, json)."""
    chunks = (body[i:i + chunk_size] for i in range(0, len(body), chunk_size))
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.request("POST", AM_URL, body=chunks, encode_chunked=True,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_chunked_alertmanager_body_is_read_and_applied(gunicorn, api_token):
    body = json.dumps(am_payload(am_alert(annotations={"description": "5xx at 3 %"}))).encode()
    assert len(body) < 2000
    status, data = post_chunked(gunicorn, api_token, body)
    assert status == 200, data
    assert data["opened"] == 1
    incident = Incident.objects.get()
    assert incident.source == "alertmanager" and incident.summary == "5xx at 3 %"
    stored = WebhookPayload.objects.get()
    assert stored.outcome == "accepted" and json.loads(stored.body) == json.loads(body)


def test_an_oversized_chunked_body_gets_413_and_is_kept(gunicorn, api_token):
    filler = "x" * 1000
    alerts = [am_alert(fingerprint=f"fp-{n}", annotations={"description": filler}) for n in range(1100)]
    body = json.dumps(am_payload(*alerts)).encode()
    assert len(body) > MAX_BODY_BYTES
    status, data = post_chunked(gunicorn, api_token, body, chunk_size=64 * 1024)
    assert status == 413
    assert data == {"error": {"code": "too_large", "message": f"body too large: at most {MAX_BODY_BYTES:,} bytes",
                              "details": {"max_bytes": MAX_BODY_BYTES}}}
    stored = WebhookPayload.objects.get()
    assert stored.outcome == "too_large" and stored.error == f"chunked body exceeds {MAX_BODY_BYTES:,} bytes"
    assert stored.body == body[:64 * 1024].decode()
    assert not Incident.objects.exists()


def test_a_chunked_body_without_a_token_is_refused(gunicorn):
    status, data = post_chunked(gunicorn, "oc_wrong", json.dumps(am_payload()).encode())
    assert status == 401
    assert not WebhookPayload.objects.exists()
