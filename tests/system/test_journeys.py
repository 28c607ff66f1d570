"""Journeys in Chromium, each from sign-in to the end, against a live server, a
real Celery worker and (journey 1) a real Prometheus and Alertmanager:
(1) an alert fires, the on-call engineer acknowledges from the page's link,
runs the linked runbook, a diagnostic fails, the commander raises the severity
and approves the mitigation, the incident is mitigated and resolves; (3) then an
auditor reviews and exports that incident; (2) the commander's board during a
storm of 200 alerts across 20 services; (4) an admin edits a runbook and the
old run still shows the old version. A failing step saves a screenshot of every
open page as test-artifacts/<test>-<step number>-<step>-<page>.png."""
import contextlib
import csv
import io
import re
import time

import pytest

from ops_console.escalation import engine as escalation
from ops_console.incidents.intake_config import do_create_token
from ops_console.incidents.models import Incident, Severity
from ops_console.monitoring import prometheus as prom
from ops_console.monitoring.models import Service
from ops_console.runbooks import library
from ops_console.runbooks.models import Run
from tests.conftest import ARTIFACTS
from tests.waiting import wait_until

from .alertmanager import am_payload, post, storm_alert

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SERVICE_DOWN = """---
title: Service down
alerts: [ServiceDown]
services: [backend]
---

# Service down

## Diagnosis

```shell title="Check the process" auto=true
echo "backend process: checked"
```

```shell title="Probe the health endpoint" auto=true on_failure=continue
echo "connection refused" >&2; exit 1
```

## Mitigation

```approval title="Restart the backend?"
The health probe failed: restart the backend.
```

```shell title="Restart the backend" auto=true
echo "backend restarted"
```
"""


class Journey:
    """Names the steps of a journey; a step that fails screenshots every page first."""

    def __init__(self, name):
        self.name, self.pages, self.number = name, [], 0

    def opened(self, page):
        self.pages.append(page)
        return page

    @contextlib.contextmanager
    def step(self, title):
        self.number += 1
        try:
            yield
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
            for i, page in enumerate(self.pages):
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(ARTIFACTS / f"{self.name}-{self.number:02d}-{slug}-{i}.png"),
                                    full_page=True)
            raise


@pytest.fixture
def journey(request):
    return Journey(request.node.name)


def _text(message):
    """The plain text of an e-mail as received (one part or the first text part)."""
    part = next((p for p in message.walk() if p.get_content_type() == "text/plain"), message)
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8", errors="replace")


def status_text(page, text, timeout=15_000):
    page.get_by_test_id("status").filter(has_text=text).wait_for(timeout=timeout)


# --- (1) alert to resolution, then (3) the auditor's review --------------------

def test_alert_to_resolution_then_the_auditors_review_and_export(
        journey, monitoring_stack, target, worker_control, on_call, page_as, live_server, settings, smtp):
    Service.objects.create(slug="backend", name="Backend API", selector='job="backend"')
    library.save_text(SERVICE_DOWN, slug="service-down")
    mail_server = smtp()  # the on-call engineer has no contact method: pages go to their account e-mail
    worker_control.start(extra_env={"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(mail_server.port),
                                    "OPS_CONSOLE_BASE_URL": live_server.url})
    oncall = on_call["oncall-sre"]

    with journey.step("the target goes down and the alert opens an incident"):
        wait_until(lambda: prom.query('up{job="backend"} == 1'), 30, message="the first scrape of the target")
        target.stop()
        incident = wait_until(lambda: Incident.objects.filter(source="alertmanager").first(), 60,
                              message="the incident")
        assert incident.runbook.slug == "service-down" and incident.severity.code == "P1"

    with journey.step("the on-call engineer is paged by e-mail with an acknowledge link"):
        escalation.fire_due()   # what beat's periodic task does
        mail = wait_until(lambda: next((found for message in mail_server.messages
                                        if (found := re.search(r"Acknowledge: (\S+/ack/\S+)", _text(message)))),
                                       None), 30, message="the e-mail page")
        ack_url = mail.group(1)
        assert ack_url.startswith(live_server.url)

    responder = journey.opened(page_as("responder", user=oncall))
    with journey.step("they acknowledge from the link"):
        responder.goto(ack_url)
        responder.get_by_role("button", name=f"Acknowledge {incident.reference}").click()
        responder.get_by_role("heading", name="Acknowledged").wait_for()
        responder.goto(live_server.url + incident.get_absolute_url())
        status_text(responder, "Acknowledged")

    with journey.step("they run the linked runbook and a diagnostic fails"):
        responder.get_by_test_id("start-runbook").click()
        responder.get_by_role("button", name="Start the run").click()
        responder.wait_for_url(f"{live_server.url}/runs/*/")
        run_url = responder.url
        responder.locator("[data-testid=step-2][data-status=failed]").wait_for(timeout=20_000)
        assert "connection refused" in responder.get_by_test_id("step-2").inner_text()
        responder.locator("[data-testid=step-3][data-status=waiting]").wait_for(timeout=20_000)
        assert responder.get_by_test_id("step-3").get_by_role("button", name="Approve").count() == 0

    with journey.step("they write down what they found"):
        responder.goto(live_server.url + incident.get_absolute_url())
        responder.fill("textarea[name=text]", "Health probe: **connection refused**. Asking to escalate.")
        responder.get_by_role("button", name="Add note").click()
        responder.get_by_test_id("timeline").filter(has_text="connection refused").wait_for()

    commander = journey.opened(page_as("commander"))
    with journey.step("the commander raises the severity to P0"):
        commander.goto(live_server.url + incident.get_absolute_url())
        commander.select_option("select[name=severity]", str(Severity.objects.get(code="P0").pk))
        commander.fill("input[name=reason]", "Backend fully down")
        commander.get_by_role("button", name="Change severity").click()
        commander.locator("h1 .sev-badge").filter(has_text="P0").wait_for()

    with journey.step("the commander approves the mitigation and it runs"):
        commander.goto(run_url)
        commander.get_by_test_id("step-3").get_by_role("button", name="Approve").click()
        commander.get_by_test_id("run-status").filter(has_text="succeeded").wait_for(timeout=20_000)
        assert "backend restarted" in commander.get_by_test_id("step-4").inner_text()

    with journey.step("the incident is marked mitigated, the target is back, the incident resolves"):
        commander.goto(live_server.url + incident.get_absolute_url())
        commander.get_by_test_id("to-mitigated").click()
        status_text(commander, "Mitigated")
        target.start()
        status_text(commander, "Resolved", timeout=60_000)   # Alertmanager's "resolved", no reload
        status_text(responder, "Resolved", timeout=15_000)

    incident.refresh_from_db()
    assert incident.severity.code == "P0" and incident.status == "resolved"
    assert incident.acknowledged_at <= incident.mitigated_at <= incident.resolved_at

    auditor = journey.opened(page_as("auditor"))
    with journey.step("the auditor reviews the incident's history"):
        auditor.goto(live_server.url + incident.get_absolute_url())
        timeline = auditor.get_by_test_id("timeline").inner_text()
        for text in ("connection refused", "Backend fully down", oncall.username, commander.user.username):
            assert text in timeline, text
        assert "Service down" in auditor.get_by_test_id("incident-runs").inner_text()
        assert auditor.get_by_role("button", name="Change severity").count() == 0
        assert auditor.get_by_role("button", name="Add note").count() == 0

    with journey.step("the auditor exports the incident as CSV"):
        auditor.goto(live_server.url + incident.get_absolute_url())
        with auditor.expect_download() as download:
            auditor.get_by_test_id("incident-csv").click()
        rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
        kinds = [row["kind"] for row in rows]
        for kind in ("opened", "alert_fired", "paged", "acknowledged", "run_started", "note", "severity_change",
                     "run_finished", "status_change", "alert_resolved"):
            assert kind in kinds, kind
        assert {row["incident"] for row in rows} == {incident.reference}
        attempts = [row for row in rows if row["kind"] == "step.attempt"]
        assert len(rows) - len(attempts) == incident.timeline.count()
        assert attempts and all(row["data"] for row in attempts)   # what each run executed and printed


# --- (2) the commander's board during a storm -------------------------------------

def test_the_board_during_a_storm_of_200_alerts_across_20_services(journey, page_as, live_server):
    services = [Service.objects.create(slug=f"svc-{n:02d}", name=f"Service {n:02d}") for n in range(20)]
    _, token = do_create_token("alertmanager (storm)", acting_user=None)
    # Alertmanager groups by service: 20 deliveries of 10 alerts each.
    groups = [[storm_alert(s * 10 + i, service.slug) for i in range(10)] for s, service in enumerate(services)]
    board = journey.opened(page_as("commander"))

    with journey.step("the board is open and quiet"):
        board.goto(live_server.url + "/incidents/")
        board.get_by_test_id("board-empty").wait_for()
        board.evaluate("window.notReloaded = true")

    with journey.step("the storm arrives and the board fills without a reload"):
        for group in groups:
            assert post(live_server.url, token, am_payload(*group))[0] == 200
        assert Incident.objects.open().count() == 200
        # The board polls every 5 s: wait for the poll that sees all 200 (4 pages of 50).
        board.get_by_test_id("board").filter(has_text="Page 1 of 4").wait_for(timeout=15_000)
        assert board.locator('[data-testid="incident-row"]').count() == 50
        assert board.evaluate("window.notReloaded") is True

    with journey.step("the full board still loads quickly"):
        started = time.monotonic()
        board.goto(live_server.url + "/incidents/")
        board.locator('[data-testid="incident-row"]').first.wait_for()
        took = time.monotonic() - started
        assert took < 5, f"the board took {took:.1f}s with 200 open incidents"

    with journey.step("filtering by one service shows its 10 incidents"):
        board.select_option("#f-service", "svc-07")
        board.get_by_role("button", name="Filter").click()
        board.wait_for_url("**service=svc-07**")
        assert board.locator('[data-testid="incident-row"]').count() == 10
        board.evaluate("window.notReloaded = true")

    with journey.step("that service recovers and its rows leave the board without a reload"):
        resolved = [storm_alert(70 + i, "svc-07", status="resolved") for i in range(10)]
        assert post(live_server.url, token, am_payload(*resolved))[0] == 200
        board.get_by_test_id("board-empty").wait_for(timeout=15_000)
        assert board.evaluate("window.notReloaded") is True
    assert Incident.objects.open().count() == 190


# --- (4) an admin edits a runbook; the old run keeps its version -------------------

def runbook_text(word):
    return f"""---
title: Flush the cache
---

# Flush the cache

```shell title="Flush" auto=true
echo "flushing with version {word}"
```
"""


def test_an_admin_edits_a_runbook_and_the_old_run_still_shows_the_old_version(journey, page_as, live_server,
                                                                             celery_worker):
    library.save_text(runbook_text("one"), slug="flush-cache")
    admin = journey.opened(page_as("admin"))

    with journey.step("a run of version 1"):
        admin.goto(f"{live_server.url}/runbooks/flush-cache/")
        admin.get_by_role("link", name="Start a run").click()
        admin.get_by_role("button", name="Start the run").click()
        admin.wait_for_url(f"{live_server.url}/runs/*/")
        old_run_url = admin.url
        admin.get_by_test_id("run-status").filter(has_text="succeeded").wait_for(timeout=20_000)

    with journey.step("the admin edits the runbook"):
        admin.goto(f"{live_server.url}/runbooks/flush-cache/edit/")
        admin.fill("#source", runbook_text("two"))
        admin.get_by_role("button", name="Save a new version").click()
        admin.get_by_text("Saved as version 2.").wait_for()

    with journey.step("the old run still shows version 1 and what it ran"):
        admin.goto(old_run_url)
        body = admin.get_by_test_id("run-body").inner_text()
        assert "v1" in body and "flushing with version one" in body and "version two" not in body
        admin.get_by_role("link", name="v1").click()
        admin.get_by_text("You are reading version 1").wait_for()
        assert "flushing with version one" in admin.content()

    with journey.step("a new run uses version 2"):
        admin.goto(f"{live_server.url}/runbooks/flush-cache/")
        admin.get_by_role("link", name="Start a run").click()
        admin.get_by_role("button", name="Start the run").click()
        admin.wait_for_url(f"{live_server.url}/runs/*/")
        admin.get_by_test_id("run-status").filter(has_text="succeeded").wait_for(timeout=20_000)
        body = admin.get_by_test_id("run-body").inner_text()
        assert "v2" in body and "flushing with version two" in body
    assert list(Run.objects.order_by("pk").values_list("version__number", flat=True)) == [1, 2]
