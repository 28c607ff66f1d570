"""MTTA/MTTR against targets, pages per person, runbook usage and step failure rates, on hand-computed data."""
import datetime as dt

from django.urls import reverse

from ops_console.history import reports
from ops_console.escalation.models import Page
from ops_console.incidents.models import Incident, Severity
from ops_console.runbooks.models import Run, StepRun

from . import builders

M = dt.timedelta(minutes=1)
T0 = builders.T0  # 2026-03-02 10:00 UTC
APRIL = dt.datetime(2026, 4, 10, 8, 0, tzinfo=dt.timezone.utc)


def targets():
    Severity.objects.filter(code="P1").update(ack_target=15 * M, resolution_target=120 * M)
    Severity.objects.filter(code="P2").update(ack_target=30 * M, resolution_target=24 * 60 * M)


def test_judge():
    assert reports.judge(T0, T0 + 15 * M, 15 * M, None) == "met"  # exactly on target is met
    assert reports.judge(T0, T0 + 16 * M, 15 * M, None) == "missed"
    assert reports.judge(T0, None, 15 * M, T0 + 10 * M) == "pending"
    assert reports.judge(T0, None, 15 * M, T0 + 20 * M) == "missed"
    assert reports.judge(T0, T0 + 99 * M, None, None) is None


def test_mtta_and_mttr_per_severity_and_month(db):
    targets()
    builders.incident("A", "P1", ack_after=10 * M, resolve_after=60 * M)
    b = builders.incident("B", "P1", ack_after=20 * M, resolve_after=180 * M)
    builders.incident("C", "P1", resolve_after=12 * M)              # resolved without an acknowledgement
    d = builders.incident("D", "P1")                                 # still open an hour later
    builders.incident("E", "P1", detected=APRIL, ack_after=5 * M, resolve_after=30 * M)
    builders.incident("F", "P2", ack_after=45 * M)

    march_p1, march_p2, april_p1 = reports.response_times(Incident.objects.all(), now=T0 + 60 * M)

    assert (march_p1.month, march_p1.severity, march_p1.incidents) == (dt.date(2026, 3, 1), "P1", 4)
    assert march_p1.mtta == 15 * 60               # mean of 10 and 20 minutes
    assert march_p1.mttr == 84 * 60               # mean of 60, 180 and 12 minutes
    assert march_p1.mtta_met is True and march_p1.mttr_met is True
    assert march_p1.ack == {"met": 2, "missed": 2, "pending": 0}
    assert march_p1.resolve == {"met": 2, "missed": 1, "pending": 1}
    assert [(m.reference, m.target, m.seconds) for m in march_p1.misses] == [
        (b.reference, "acknowledge", 20 * 60), (b.reference, "resolve", 180 * 60), (d.reference, "acknowledge", None)]

    assert march_p2.ack == {"met": 0, "missed": 1, "pending": 0} and march_p2.mtta == 45 * 60
    assert march_p2.mtta_met is False and march_p2.mttr is None and march_p2.resolve["pending"] == 1

    assert (april_p1.month, april_p1.mtta, april_p1.mttr) == (dt.date(2026, 4, 1), 300, 1800)


def test_pages_per_person(make_user):
    rita, sam = make_user("responder", username="rita"), make_user("responder", username="sam")
    inc = builders.incident("paged")
    builders.page(inc, rita, acknowledged=True)
    builders.page(inc, rita)
    builders.page(inc, sam)
    assert reports.pages_per_person(Page.objects.all()) == [
        {"user": "rita", "pages": 2, "acknowledged": 1}, {"user": "sam", "pages": 1, "acknowledged": 0}]


def test_runbook_usage_and_step_failure_rates(db):
    book, other = builders.runbook("restart-app"), builders.runbook("flush-cache")
    builders.run(book, steps=[("succeeded", None, None), ("succeeded", None, None)])
    builders.run(book, status="failed", steps=[("succeeded", None, None), ("failed", None, None)])
    builders.run(book, status="failed", steps=[("failed", None, None), ("pending", None, None)])
    builders.run(other, status="cancelled", steps=[("cancelled", None, None)])

    usage = reports.runbook_usage(Run.objects.all())
    assert [(u["runbook__slug"], u["runs"], u["succeeded"], u["failed"], u["cancelled"]) for u in usage] == [
        ("restart-app", 3, 1, 2, 0), ("flush-cache", 1, 0, 0, 1)]

    rates = reports.step_failure_rates(StepRun.objects.all())
    assert [(r["runbook"], r["index"], r["finished"], r["failed"]) for r in rates] == [
        ("restart-app", 1, 2, 1), ("restart-app", 0, 3, 1)]
    assert rates[0]["rate"] == 0.5 and round(rates[1]["rate"], 3) == 0.333


def test_reports_page(client_as, make_user):
    targets()
    late = builders.incident("Late ack", "P1", ack_after=40 * M, resolve_after=90 * M)
    builders.page(late, make_user("responder", username="rita"))
    builders.run(incident=late, status="failed", steps=[("failed", None, None)], at=T0)
    response = client_as("auditor").get(reverse("history:reports"), {"since": "2026-03-01", "until": "2026-03-31"})
    body = response.content.decode()
    assert response.status_code == 200
    assert f'href="/incidents/{late.reference}/"' in body  # listed as missing its target
    assert "40m 00s" in body and "rita" in body and "100%" in body


def test_reports_default_to_the_last_six_months(client_as):
    response = client_as("auditor").get(reverse("history:reports"))
    assert response.status_code == 200
    since, until = reports.default_period()
    assert (response.context["since"], response.context["until"]) == (since, until)
    assert reports.default_period(dt.date(2026, 3, 15)) == (dt.date(2025, 10, 1), dt.date(2026, 3, 15))


def test_step_failure_rates_count_failed_attempts(db):
    from ops_console.runbooks.models import StepAttempt

    book = builders.runbook("restart-app")
    retried = builders.run(book, steps=[("succeeded", None, None), ("succeeded", None, None)])
    first, second = retried.steps.order_by("index")
    for number, status in ((1, "failed"), (2, "lost"), (3, "succeeded")):
        StepAttempt.objects.create(step_run=first, number=number, status=status)
    StepAttempt.objects.create(step_run=second, number=1, status="cancelled")  # neither succeeded nor failed
    StepAttempt.objects.create(step_run=second, number=2, status="succeeded")
    builders.run(book, status="failed", steps=[("failed", None, None)])  # a gate rejected: no attempts kept

    rates = reports.step_failure_rates(StepRun.objects.all())
    assert [(r["index"], r["finished"], r["failed"]) for r in rates] == [(0, 4, 3), (1, 1, 0)]
