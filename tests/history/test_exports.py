"""The history's exports stream: a filtered incident list, one incident with its timeline and its runs."""
import csv
import datetime as dt
import io
import json

from django.http import StreamingHttpResponse
from django.urls import reverse

from . import builders


def body(response):
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode("utf-8-sig")


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(body(response))))


def test_incident_list_export(client_as):
    svc = builders.service("db")
    a = builders.incident("Replica lag", "P1", services=[svc], ack_after=dt.timedelta(minutes=4),
                          resolve_after=dt.timedelta(minutes=50))
    builders.incident("Other", "P3")
    client = client_as("auditor")
    rows = csv_rows(client.get(reverse("history:incidents_csv"), {"severity": "P1"}))
    assert len(rows) == 1
    row = rows[0]
    assert (row["reference"], row["services"], row["status"]) == (a.reference, "db", "resolved")
    assert float(row["seconds_to_acknowledge"]) == 240 and float(row["seconds_to_resolve"]) == 3000
    data = json.loads(body(client.get(reverse("history:incidents_json"), {"severity": "P1"})))
    assert [i["reference"] for i in data] == [a.reference]


def test_one_incident_exports_with_its_timeline(client_as, make_user):
    inc = builders.incident("Disk full", "P0", ack_after=dt.timedelta(minutes=2),
                            events=[("note", "Cleared /var/log", 5)])
    builders.run(incident=inc, started_by=make_user("responder", username="ron"))
    client = client_as("auditor")
    response = client.get(reverse("history:incident_csv", args=[inc.reference]))
    assert response["Content-Disposition"] == f'attachment; filename="{inc.reference}.csv"'
    rows = csv_rows(response)
    assert [r["kind"] for r in rows] == ["opened", "acknowledged", "note"]
    assert rows[2]["message"] == "Cleared /var/log"
    data = json.loads(body(client.get(reverse("history:incident_json", args=[inc.reference]))))
    assert data["incident"]["reference"] == inc.reference and data["incident"]["severity"] == "P0"
    assert [e["kind"] for e in data["timeline"]] == ["opened", "acknowledged", "note"]
    assert data["runs"][0]["started_by"] == "ron" and data["runs"][0]["version"] == 1


def test_a_bad_filter_is_refused_with_the_reason(client_as, db):
    response = client_as("auditor").get(reverse("history:incidents_json"),
                                        {"since": "2026-05-02", "until": "2026-05-01"})
    assert response.status_code == 400 and b"must not be after" in response.content


def test_the_incident_exports_keep_every_attempt_of_a_retried_step(client_as, make_user):
    from ops_console.runbooks import engine
    from tests.runbooks.builders import drive, shell, start

    inc = builders.incident("Disk full", "P0")
    ron, rita = make_user("responder", username="ron"), make_user("responder", username="rita")
    run = drive(start(shell("echo cleaning; exit 2"), actor=ron, context={"incident": inc.reference}))
    engine.do_retry(run.steps.get().pk, actor=rita)
    drive(run)
    client = client_as("auditor")

    data = json.loads(body(client.get(reverse("history:incident_json", args=[inc.reference]))))
    [step] = data["runs"][0]["steps"]
    assert [(a["attempt"], a["status"], a["exit_code"], a["output"], a["confirmed_by"]) for a in step["attempts"]] \
        == [(1, "failed", 2, "cleaning\n", ""), (2, "failed", 2, "cleaning\n", "rita")]
    assert all(a["command"] and a["started_at"] and a["finished_at"] for a in step["attempts"])

    rows = [r for r in csv_rows(client.get(reverse("history:incident_csv", args=[inc.reference])))
            if r["kind"] == "step.attempt"]
    assert [r["actor"] for r in rows] == ["", "rita"]
    assert rows[1]["message"] == f"run {run.pk} step 1 (shell step) attempt 2: failed, exit 2"
    kept = json.loads(rows[1]["data"])
    assert kept["output"] == "cleaning\n" and kept["exit_code"] == 2 and kept["command"]


def test_the_run_record_shows_every_attempt(client_as, make_user):
    from ops_console.runbooks import engine
    from tests.runbooks.builders import drive, shell, start

    run = drive(start(shell("echo first try; exit 3"), actor=make_user("responder")))
    engine.do_retry(run.steps.get().pk, actor=make_user("responder", username="rita"))
    drive(run)
    content = client_as("auditor").get(reverse("runbooks:run", args=[run.pk])).content.decode()
    # The one run page: the latest attempt shown as the step, the earlier one listed beneath it.
    assert "Attempt 2 of 2 · earlier attempts (1)" in content and content.count('data-testid="attempt"') == 1
    assert "Run by rita" in content and "exit 3" in content
