"""Fault injection, each bounded in time and ending with "nothing was lost":
a worker SIGKILLed mid-step, Redis restarted mid-run, PostgreSQL restarted
while webhooks arrive (with the board open), Prometheus stopped, a flood of
webhooks, a slow chat webhook. All traffic stays on 127.0.0.1."""
import http.client
import json
import os
import subprocess
import time
import urllib.error
from datetime import timedelta

import pytest
from django.db import connection

from devstack import services
from ops_console.audit.models import AuditEntry
from ops_console.escalation import tasks as escalation_tasks
from ops_console.escalation.models import ContactMethod, Delivery, Page
from ops_console.incidents import alert_queue
from ops_console.incidents.intake_config import do_create_token
from ops_console.incidents.models import Alert, Incident, TimelineEvent
from ops_console.monitoring import prometheus as prom
from ops_console.runbooks import engine
from ops_console.runbooks.models import Run, StepRun
from tests.conftest import SmtpRecorder
from tests.escalation.conftest import json_url, open_incident
from tests.health.test_shedding import shed_total
from tests.monitoring.conftest import UP_ABOVE, UP_PANEL, make_service
from tests.runbooks.builders import drive, shell, start, statuses, step
from tests.runbooks.test_tasks import celery_broker
from tests.waiting import wait_until

from .alertmanager import (am_payload, deliver, get_status, in_background, in_threads, post, storm_alert,
                           table_locked)

pytestmark = [pytest.mark.integration]


def step_status(run, index):
    return StepRun.objects.get(run=run, index=index).status


def run_status(run):
    return Run.objects.get(pk=run.pk).status


# --- Celery worker SIGKILLed --------------------------------------------------

def test_a_worker_sigkilled_mid_step_is_detected_and_a_retry_on_a_fresh_worker_finishes_the_run(
        worker_control, make_user, step_shared_dir):
    marker = step_shared_dir / "attempts"
    # The first attempt hangs (and is killed); the second, after the retry, finishes.
    command = f'echo attempt >> {marker}; [ "$(wc -l < {marker})" -ge 2 ] || sleep 30; echo fixed'
    worker = worker_control.start(name="doomed")
    responder, commander = make_user("responder"), make_user("commander")
    run = start(shell(command, title="Restart the pod"), shell("echo verified", title="Verify"), actor=responder)
    wait_until(lambda: marker.exists() and step_status(run, 0) == "running", 20, message="the step to start")

    worker.kill()  # SIGKILL to the whole process group: no cleanup, no ack
    time.sleep(1.5)  # time passes on purpose: a step counts as lost once its heartbeat is older than lost_after
    assert engine.reconcile(lost_after=timedelta(seconds=1))["lost"] == 1
    lost = run.steps.get(index=0)
    assert lost.status == "failed" and lost.error.startswith("worker lost")
    assert run_status(run) == "failed" and marker.read_text() == "attempt\n"   # never re-run on its own

    worker_control.start(name="fresh")
    engine.do_retry(lost.pk, actor=commander)
    wait_until(lambda: run_status(run) == "succeeded", 30, message="the retried run to finish")
    assert marker.read_text() == "attempt\nattempt\n"   # exactly one more attempt: the one asked for
    assert run.steps.get(index=0).output.endswith("fixed\n") and run.steps.get(index=1).output == "verified\n"
    actions = list(AuditEntry.objects.filter(object_type="runbooks.run", object_id=str(run.pk))
                   .order_by("id").values_list("action", flat=True))
    assert actions[0] == "run.started" and "step.failed" in actions and "run.retried" in actions
    assert actions[-1] == "run.succeeded"


# --- Redis stopped and restarted ----------------------------------------------

def test_redis_stopped_mid_run_loses_no_step_and_runs_none_twice(worker_control, private_redis, make_user,
                                                                 step_shared_dir):
    marker = step_shared_dir / "ran"
    responder = make_user("responder")
    with celery_broker(private_redis.url):
        worker = worker_control.start(redis_url=private_redis.url)
        run = start(shell(f"sleep 2; echo one >> {marker}"), shell(f"echo two >> {marker}", auto=False),
                    shell(f"echo three >> {marker}"), actor=responder)
        wait_until(lambda: step_status(run, 0) == "running", 20, message="step 1 to start")
        private_redis.stop()
        wait_until(lambda: step_status(run, 1) == "waiting", 20, message="step 1 to finish with the broker down")
        # A person clicks "Run" while the broker is down: accepted, the step waits queued in the database.
        engine.do_run_step(run.steps.get(index=1).pk, actor=responder)
        assert step_status(run, 1) == "queued"
        time.sleep(1)  # on purpose: the outage lasts a moment while the step waits queued in the database
        private_redis.start()

        def reconciled():
            engine.reconcile(requeue_after=timedelta(seconds=1))
            return run_status(run) == "succeeded"

        wait_until(reconciled, 40, message="the run to finish after Redis came back", interval=0.5)
        assert worker.alive()
    assert statuses(run) == ["succeeded"] * 3
    assert marker.read_text() == "one\ntwo\nthree\n"   # every step exactly once


# --- PostgreSQL restarted while webhooks arrive --------------------------------

@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_database_outage_is_answered_5xx_and_alertmanagers_retries_land_exactly_once(live_server, page_as):
    if not os.environ.get("OPS_CONSOLE_TEST_PGDATA"):
        pytest.fail("this test restarts the test PostgreSQL: run it through `python3 -m devstack test`")
    _, token = do_create_token("alertmanager (restart test)", acting_user=None)
    postgres = services.Postgres(int(os.environ["OPS_CONSOLE_TEST_PGPORT"]), os.environ["OPS_CONSOLE_TEST_PGDATA"])
    alerts = [storm_alert(n, "checkout") for n in range(10)]
    board = page_as("commander")
    board.goto(live_server.url + "/incidents/")
    board.evaluate("window.notReloaded = true")
    for alert in alerts[:4]:
        assert deliver(live_server.url, token, alert) == 200

    outage_answers, answers = [], []
    postgres.stop()
    try:
        connection.close()
        outage_answers.append(post(live_server.url, token, am_payload(alerts[4]))[0])
        # Alertmanager keeps retrying each group while the database is down.
        join = in_background([lambda a=a: deliver(live_server.url, token, a, attempts=80, log=answers)
                              for a in alerts[4:]])
        wait_until(lambda: sum(isinstance(a, int) and a >= 500 for a in answers) >= len(alerts[4:]), 20,
                   message="every retrying delivery to be answered 5xx during the outage")
    finally:
        restart_test_postgres(postgres)
    assert all(status in (200, 202) for status in join())  # 202: stored, applied by the request holding the lock
    connection.close()  # the test's own connection died with the server
    alert_queue.drain()  # what the worker's beat schedule does, for any delivery a request left queued

    assert outage_answers[0] >= 500 and any(isinstance(a, int) and a >= 500 for a in answers)
    assert not [a for a in answers + outage_answers if a == 429 or (isinstance(a, int) and 400 <= a < 500)]
    for alert in alerts:
        assert Alert.objects.filter(fingerprint=alert["fingerprint"]).count() == 1
    assert Incident.objects.filter(source="alertmanager").count() == 10
    assert TimelineEvent.objects.filter(kind="alert_fired").count() == 10
    # The board, open through the outage, shows them without a reload.
    board.locator('[data-testid="incident-row"]').nth(9).wait_for(timeout=15_000)
    assert board.locator('[data-testid="incident-row"]').count() == 10
    assert board.evaluate("window.notReloaded") is True


def restart_test_postgres(postgres):
    """Start the stopped test server again. Postgres.start() also runs createdb,
    which fails because the database exists: that failure is expected."""
    try:
        postgres.start()
    except subprocess.CalledProcessError as exc:
        if "createdb" not in " ".join(map(str, exc.cmd)):
            raise
    wait_until(lambda: services.port_open(postgres.port), 30, message="PostgreSQL after the restart")


# --- Prometheus stopped --------------------------------------------------------

@pytest.fixture
def own_prometheus(tmp_path, settings):
    """A Prometheus of this test's own (the session one is shared), scraping itself."""
    port = services.free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n"
                      f"  - job_name: prometheus\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
    server = services.Prometheus(port, config, tmp_path / "prom").start()
    settings.PROMETHEUS_URL = server.url
    prom.reset_breaker()
    yield server
    server.stop()
    prom.reset_breaker()


def timed_get(client, url):
    started = time.monotonic()
    response = client.get(url)
    return response, time.monotonic() - started


def test_prometheus_stopped_pages_answer_fast_and_say_so_and_a_promql_step_fails_with_the_reason(
        own_prometheus, client_as, make_user, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}  # no cached answers
    service = make_service(slug="checkout", selector='job="prometheus"', slos=[UP_ABOVE], panels=[UP_PANEL])
    client = client_as("responder")
    wait_until(lambda: prom.query('up{job="prometheus"} == 1'), 30, message="the first scrape")
    response, _ = timed_get(client, service.get_absolute_url())
    assert response.status_code == 200 and "prometheus-unreachable" not in response.content.decode()

    own_prometheus.stop()
    prom.reset_breaker()
    for url in (service.get_absolute_url(), "/services/", "/incidents/"):
        response, took = timed_get(client, url)
        assert response.status_code == 200, url
        assert took < settings.PROMETHEUS_TIMEOUT + 3, f"{url} took {took:.1f}s with Prometheus down"
    assert "Prometheus is unreachable" in client.get(service.get_absolute_url()).content.decode()

    run = drive(start(step("promql", 'up{job="prometheus"}', expect="== 1", title="Is it up?"),
                      actor=make_user("responder")))
    failed = run.steps.get(index=0)
    assert failed.status == "failed" and "Prometheus is unreachable" in failed.error
    assert run.status == "failed"


# --- a flood of webhooks -------------------------------------------------------

NETWORK_ERROR = "network error"


def post_or_network_error(base_url, token, payload):
    try:
        return post(base_url, token, payload)
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as exc:
        return NETWORK_ERROR, {}, str(exc)

def test_a_flood_of_webhooks_is_shed_with_503_and_retry_after_never_429_and_no_accepted_alert_is_lost(
        live_server, transactional_db, settings):
    settings.API_MAX_INFLIGHT = 4
    _, token = do_create_token("alertmanager (flood)", acting_user=None)
    groups = [[storm_alert(g * 5 + i, f"svc-{g:02d}") for i in range(5)] for g in range(48)]
    shed_before = shed_total()  # the live server runs in this process: it counts here
    with table_locked("incidents_webhookpayload") as waiting:
        join = in_background([lambda g=g: post_or_network_error(live_server.url, token, am_payload(*g))
                              for g in groups])
        wait_until(lambda: waiting() >= 4, 20, message="the first deliveries to fill every slot")
        # The rest of the flood arrives while every slot is taken, and is shed.
        wait_until(lambda: shed_total() > shed_before, 20, message="a delivery shed with 503")
    answers = join()
    statuses_seen = {status for status, _, _ in answers}
    # A connection the test server's small listen backlog drops is a network error,
    # which Alertmanager retries like a 5xx.
    assert statuses_seen <= {200, 202, 503, NETWORK_ERROR} and 503 in statuses_seen
    assert all(headers.get("Retry-After") == "5" for status, headers, _ in answers if status == 503)
    accepted = [g for g, (status, _, _) in zip(groups, answers) if status in (200, 202)]
    alert_queue.drain()  # what the worker does for deliveries stored (202) while a request held the lock
    for group in accepted:   # every alert acknowledged with a 2xx is in the database
        assert Alert.objects.filter(fingerprint__in=[a["fingerprint"] for a in group]).count() == 5
    assert get_status(live_server.url + "/healthz") == 200   # still up

    # Alertmanager retries what was shed; in the end every alert is in, once.
    retried = [g for g, (status, _, _) in zip(groups, answers) if status not in (200, 202)]
    assert set(in_threads([lambda g=g: deliver(live_server.url, token, *g) for g in retried])) <= {200, 202}
    alert_queue.drain()
    assert Alert.objects.count() == 240 and Alert.objects.values("fingerprint").distinct().count() == 240


# --- a slow chat webhook --------------------------------------------------------

def test_a_slow_chat_webhook_does_not_delay_the_page_or_its_email(worker_control, on_call, receiver):
    chat = receiver(delay=4)  # answers after 4 s (the channel's timeout is 5 s)
    slack_body = (":message=text", ":version=", ":title=", ":attachments=", ":type=")
    ContactMethod.objects.create(user=None, url=json_url(chat.url, *slack_body))   # team chat: every page
    mail_server = SmtpRecorder()
    try:
        worker_control.start(concurrency=2, extra_env={"EMAIL_HOST": "127.0.0.1",
                                                       "EMAIL_PORT": str(mail_server.port)})
        incident = open_incident("P1", title="Checkout returns 502")
        escalation_tasks.fire_due_escalations.delay()

        email = wait_until(lambda: Delivery.objects.filter(page__incident=incident, channel="E-Mail",
                                                           status="delivered").first(), 20, message="the e-mail page")
        page = Page.objects.get(incident=incident)
        chat_row = Delivery.objects.get(page=page, channel="JSON")
        assert chat_row.status in ("pending", "sending")   # the chat is still slow; the e-mail did not wait for it
        assert page.user == on_call["oncall-sre"] and email.method is None
        assert [m["Subject"] for m in mail_server.messages] == [f"[P1] {incident.reference} Checkout returns 502"]
    finally:
        mail_server.close()
    wait_until(lambda: Delivery.objects.get(pk=chat_row.pk).status == "delivered", 20, message="the slow chat message")
    assert len(chat.requests) == 1 and incident.reference in json.dumps(chat.requests[0]["json"])
