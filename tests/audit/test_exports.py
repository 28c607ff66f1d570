"""The audit log's exports stream a period; the CSV and JSON keep what verifying the chain needs."""
import csv
import datetime as dt
import io
import json

from django.http import StreamingHttpResponse
from django.urls import reverse

from ops_console.audit.log import record


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


def test_audit_log_export_needs_its_permission(client_as, db):
    assert client_as("responder").get(reverse("audit:export_csv")).status_code == 403
    assert client_as("commander").get(reverse("audit:export_json")).status_code == 403


def test_a_bad_filter_is_refused_with_the_reason(client_as, db):
    response = client_as("auditor").get(reverse("audit:export_csv"), {"since": "2026-02-30"})
    assert response.status_code == 400 and b"since: Enter a valid date." in response.content
