"""/runs/<id>/stream/: who may open it, what it sends after a reconnect, the cap
that keeps gunicorn's threads for the board, and a browser that reconnects
mid-step seeing every line once, in order."""
import http.client
import json
import os
import sys
import time

import pytest
from django.test import Client

from devstack import services
from ops_console.runbooks.live_output import Publisher
from ops_console.runbooks.models import Run, StepRun
from tests.conftest import REPO, database_url
from tests.waiting import wait_until

from .builders import make_doc, make_version, shell, start, step

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROLES = ["admin", "commander", "responder", "auditor", ""]   # "": signed in, no role


def running_run():
    """A run that is not finished (its manual step waits for a person)."""
    return start(step("manual", "Look at the dashboard"))


def events_of(response):
    """The events a (finite) stream sent, as [(name, data)]."""
    text = b"".join(response.streaming_content).decode()
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


@pytest.mark.parametrize("role", ROLES)
def test_who_may_open_the_stream(client_as, role, settings):
    settings.RUNBOOK_STREAM_SECONDS = 0
    url = f"/runs/{running_run().pk}/stream/"
    response = client_as(role).get(url)
    if role:
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        assert [name for name, _ in events_of(response)] == ["status", "bye"]
    else:
        assert response.status_code == 403
    response.close()


def test_not_signed_in_goes_to_the_login(client):
    response = client.get(f"/runs/{running_run().pk}/stream/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_finished_run_has_no_stream(client_as):
    run = running_run()
    Run.objects.filter(pk=run.pk).update(status=Run.SUCCEEDED)
    assert client_as("auditor").get(f"/runs/{run.pk}/stream/").status_code == 204


def test_a_reconnect_gets_exactly_what_the_page_lacks(client_as, settings):
    settings.RUNBOOK_STREAM_SECONDS = 0
    run = running_run()
    step_run = StepRun.objects.get(run=run)
    StepRun.objects.filter(pk=step_run.pk).update(status=StepRun.RUNNING, attempts=2)
    live = Publisher(run.pk, step_run.pk, 2)
    for n, now in enumerate((1.0, 2.0, 3.0)):
        live.feed(f"line{n}\n".encode())
        live.pump(now)
    client = client_as("responder")
    url = f"/runs/{run.pk}/stream/"
    # Nothing on the page yet: all of it; 6 bytes on the page: the rest; an older attempt's offset: all again.
    assert events_of(client.get(url))[0] == (
        "output", {"step": step_run.pk, "attempt": 2, "offset": 0, "end": 18, "text": "line0\nline1\nline2\n"})
    assert events_of(client.get(url, {"have": f"{step_run.pk}.2.6"}))[0][1]["text"] == "line1\nline2\n"
    assert events_of(client.get(url, {"have": f"{step_run.pk}.2.18"}))[0][0] == "status"
    assert events_of(client.get(url, {"have": f"{step_run.pk}.1.12"}))[0][1]["offset"] == 0
    # The page shows the streamed text with its offset, so the stream goes on from there.
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert f'data-live-step="{step_run.pk}" data-live-attempt="2" data-offset="18"' in page


def test_past_the_streamed_bytes_the_page_shows_the_database_text(client_as, settings):
    settings.RUNBOOK_STREAM_SECONDS = 0
    run = running_run()
    step_run = StepRun.objects.get(run=run)
    StepRun.objects.filter(pk=step_run.pk).update(status=StepRun.RUNNING, attempts=1, output="head [cut] tail")
    live = Publisher(run.pk, step_run.pk, 1)
    live.feed(b"x" * 200_000)
    live.close()
    client = client_as("auditor")
    assert events_of(client.get(f"/runs/{run.pk}/stream/"))[0] == ("cut", {"step": step_run.pk, "attempt": 1})
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-offset="" data-cut>head [cut] tail</pre>' in page


# --- the cap: streams never take the threads the board needs --------------------

@pytest.fixture
def gunicorn_streams(tmp_path):
    """The console under gunicorn as deployed per process (4 threads), streams capped at 2."""
    port = services.free_port()
    env = dict(os.environ, DATABASE_URL=database_url(), DJANGO_ALLOW_ASYNC_UNSAFE="",
               RUNBOOK_STREAMS_PER_PROCESS="2", RUNBOOK_STREAM_SECONDS="3")
    process = services.Process("web", [sys.executable, "-m", "gunicorn", "ops_console.wsgi", "--bind",
                                       f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"],
                               env=env, cwd=str(REPO), log=tmp_path / "web.log").start()
    wait_until(lambda: services.port_open(port), 30, message="gunicorn")
    yield port
    process.stop()


def test_more_run_pages_than_the_cap_and_the_board_still_answers(gunicorn_streams, make_user):
    run = running_run()
    client = Client()
    client.force_login(make_user("responder"))
    cookie = {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}
    streams, answers = [], []
    for _ in range(6):   # six run pages open, three of them more than the four threads
        connection = http.client.HTTPConnection("127.0.0.1", gunicorn_streams, timeout=10)
        connection.request("GET", f"/runs/{run.pk}/stream/", headers=cookie)
        response = connection.getresponse()
        answers.append(response.status)
        streams.append(connection)
    assert sorted(answers) == [200, 200, 204, 204, 204, 204]
    started = time.monotonic()
    board = http.client.HTTPConnection("127.0.0.1", gunicorn_streams, timeout=5)
    board.request("GET", "/incidents/", headers=cookie)
    assert board.getresponse().status == 200
    assert time.monotonic() - started < 2
    for connection in streams + [board]:
        connection.close()


# --- a browser that reconnects mid-step ----------------------------------------

LINES = 40
COUNTING = f"for i in $(seq 1 {LINES}); do echo line$i; sleep 0.1; done"

RECORD = """() => {
  window.__seen = [];
  const take = () => {
    const pre = document.querySelector('[data-testid=step-1] pre[data-live-step]');
    const s = document.querySelector('[data-testid=step-1]');
    if (pre && s && s.dataset.status === 'running') window.__seen.push(pre.textContent);
  };
  new MutationObserver(take).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def test_a_browser_that_reconnects_mid_step_sees_every_line_once_in_order(page_as, celery_worker, live_server,
                                                                          settings):
    settings.RUNBOOK_STREAM_SECONDS = 1   # the page reconnects every second, saying what it has
    version = make_version(make_doc(shell(COUNTING, title="Count"), slug="count-live"))
    page = page_as("responder")
    streams = []
    page.on("request", lambda request: streams.append(request.url) if "/stream/" in request.url else None)
    page.goto(f"{live_server.url}/runbooks/{version.runbook.slug}/start/")
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url(f"{live_server.url}/runs/*/")
    page.evaluate(RECORD)
    page.wait_for_function("() => window.OpsRunOutput.isLive()")
    for _ in range(3):   # and a few times it drops the connection itself
        page.wait_for_timeout(600)
        page.evaluate("() => window.OpsRunOutput.reconnect(0)")
    page.locator("[data-testid=step-1][data-status=succeeded]").wait_for(timeout=20_000)
    seen = page.evaluate("() => window.__seen")
    assert len(streams) >= 4, streams
    longest = 0
    for text in seen:
        lines = text.splitlines()
        assert lines == [f"line{i}" for i in range(1, len(lines) + 1)], text   # once each, in order
        assert len(lines) >= longest   # never back to an older text
        longest = len(lines)
    assert longest >= LINES // 2   # most lines arrived while the step was still running
    assert page.get_by_test_id("step-1").locator("pre.output").inner_text().splitlines()[-1] == f"line{LINES}"
