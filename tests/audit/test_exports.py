"""Exports stream: the audit log of a period, a filtered incident list, one incident with its timeline."""
import csv
import datetime as dt
import io
import json

from django.http import StreamingHttpResponse
from django.urls import reverse

from ops_console.audit.log import record

from . import builders


def body(response):
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode("utf-8-sig")


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(body(response))))


def test_audit_log_csv_export_of_a_filter(client_as, entries):
    entries(3)
    record("other.thing", object_repr="=HYPERLINK(\"http://evil\")")
    response = client_as("auditor").get(reverse("audit:export_csv"), {"action": "thing.changed"})
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-all.csv"')
    rows = csv_rows(response)
    assert [r["action"] for r in rows] == ["thing.changed"] * 3
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)  # oldest first
    assert json.loads(rows[0]["after"]) == {"n": 1} and len(rows[0]["hash"]) == 64


def test_csv_cells_cannot_become_spreadsheet_formulas(client_as, db):
    record("other.thing", object_repr='=HYPERLINK("http://evil")')
    rows = csv_rows(client_as("auditor").get(reverse("audit:export_csv"), {"action": "other.thing"}))
    assert rows[0]["object_repr"].startswith("'=")


def test_audit_log_json_export_verifies_offline(client_as, entries):
    """The JSON carries what is needed to recompute each hash outside the console (with the chain key)."""
    from ops_console.audit.models import hash_of

    entries(2)
    data = json.loads(body(client_as("auditor").get(reverse("audit:export_json"), {"action": "thing.changed"})))
    assert len(data["items"]) == 2
    for item in data["items"]:
        values = {k: item[k] for k in data["hashed_fields"]}
        values["created_at"] = dt.datetime.fromisoformat(values["created_at"])
        assert item["seal"] == 1 and hash_of(values, item["seal"]) == item["hash"]


def test_export_of_a_period_leaves_out_other_days(client_as, entries):
    entries(2)
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    response = client_as("auditor").get(reverse("audit:export_csv"), {"until": yesterday})
    assert csv_rows(response) == []
    assert yesterday in response["Content-Disposition"]


def test_incident_list_export(client_as):
    svc = builders.service("db")
    a = builders.incident("Replica lag", "P1", services=[svc], ack_after=dt.timedelta(minutes=4),
                          resolve_after=dt.timedelta(minutes=50))
    builders.incident("Other", "P3")
    client = client_as("auditor")
    rows = csv_rows(client.get(reverse("audit:incidents_csv"), {"severity": "P1"}))
    assert len(rows) == 1
    row = rows[0]
    assert (row["reference"], row["services"], row["status"]) == (a.reference, "db", "resolved")
    assert float(row["seconds_to_acknowledge"]) == 240 and float(row["seconds_to_resolve"]) == 3000
    data = json.loads(body(client.get(reverse("audit:incidents_json"), {"severity": "P1"})))
    assert [i["reference"] for i in data] == [a.reference]


def test_one_incident_exports_with_its_timeline(client_as, make_user):
    inc = builders.incident("Disk full", "P0", ack_after=dt.timedelta(minutes=2),
                            events=[("note", "Cleared /var/log", 5)])
    builders.run(incident=inc, started_by=make_user("responder", username="ron"))
    client = client_as("auditor")
    response = client.get(reverse("audit:incident_csv", args=[inc.reference]))
    assert response["Content-Disposition"] == f'attachment; filename="{inc.reference}.csv"'
    rows = csv_rows(response)
    assert [r["kind"] for r in rows] == ["opened", "acknowledged", "note"]
    assert rows[2]["message"] == "Cleared /var/log"
    data = json.loads(body(client.get(reverse("audit:incident_json", args=[inc.reference]))))
    assert data["incident"]["reference"] == inc.reference and data["incident"]["severity"] == "P0"
    assert [e["kind"] for e in data["timeline"]] == ["opened", "acknowledged", "note"]
    assert data["runs"][0]["started_by"] == "ron" and data["runs"][0]["version"] == 1


def test_audit_log_export_needs_its_permission(client_as, db):
    assert client_as("responder").get(reverse("audit:export_csv")).status_code == 403
    assert client_as("commander").get(reverse("audit:export_json")).status_code == 403


def test_a_bad_filter_is_refused_with_the_reason(client_as, db):
    client = client_as("auditor")
    response = client.get(reverse("audit:export_csv"), {"since": "2026-02-30"})
    assert response.status_code == 400 and b"since: Enter a valid date." in response.content
    response = client.get(reverse("audit:incidents_json"), {"since": "2026-05-02", "until": "2026-05-01"})
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

    data = json.loads(body(client.get(reverse("audit:incident_json", args=[inc.reference]))))
    [step] = data["runs"][0]["steps"]
    assert [(a["attempt"], a["status"], a["exit_code"], a["output"], a["confirmed_by"]) for a in step["attempts"]] \
        == [(1, "failed", 2, "cleaning\n", ""), (2, "failed", 2, "cleaning\n", "rita")]
    assert all(a["command"] and a["started_at"] and a["finished_at"] for a in step["attempts"])

    rows = [r for r in csv_rows(client.get(reverse("audit:incident_csv", args=[inc.reference])))
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
    content = client_as("auditor").get(reverse("audit:run", args=[run.pk])).content.decode()
    assert "Every attempt (2)" in content and content.count('data-testid="attempt"') == 2
    assert "run by rita" in content and "exit 3" in content
