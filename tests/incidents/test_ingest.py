"""Alertmanager v4 webhook and generic events, through HTTP."""
import json

import pytest

from ops_console.incidents.models import Alert, AlertRouting, Incident, Status, WebhookPayload

from .conftest import AM_URL, EVENTS_URL, am_alert, am_payload, severity

pytestmark = pytest.mark.django_db


def error_of(response, *kept):
    """The API's one error shape (docs/api.md), plus the older top-level fields `kept`
    for clients that read them: returns (code, message, details)."""
    body = response.json()
    assert set(body) == {"error", *kept} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]["code"], body["error"]["message"], body["error"]["details"]


def kinds(incident):
    return list(incident.timeline.values_list("kind", flat=True))


def test_firing_alert_opens_an_incident(post_json):
    response = post_json(AM_URL, am_payload(am_alert(annotations={"description": "5xx at 3 %"})))
    assert response.status_code == 200, response.content
    assert response.json()["opened"] == 1
    incident = Incident.objects.get()
    assert incident.title == "HighErrorRate: High error rate detected"
    assert incident.severity.code == "P1"  # severity=critical -> P1
    assert incident.source == "alertmanager" and incident.summary == "5xx at 3 %"
    assert kinds(incident) == ["opened", "alert_fired"]
    alert = incident.alerts.get()
    assert alert.fingerprint == "fp-1" and alert.status == "firing" and alert.ends_at is None
    assert WebhookPayload.objects.get().outcome == "accepted"


def test_one_delivery_opening_several_incidents_writes_everything_for_each(post_json):
    from ops_console.audit.chain import verify
    from ops_console.audit.models import AuditEntry
    from ops_console.escalation.matrix import ensure_defaults
    from ops_console.escalation.models import Escalation, ScheduledLevel

    ensure_defaults()
    fingerprints = ["fp-b", "fp-a", "fp-c"]
    body = am_payload(*[am_alert(fingerprint=fp) for fp in fingerprints], am_alert(fingerprint="fp-a"))
    assert post_json(AM_URL, body).json()["opened"] == 3
    incidents = list(Incident.objects.order_by("dedup_key"))
    assert [i.dedup_key for i in incidents] == ["fp-a", "fp-b", "fp-c"]
    for incident in incidents:
        assert kinds(incident) == ["opened", "alert_fired"]
        assert incident.escalation.severity == "P1" and incident.escalation.snapshot["levels"]
        assert ScheduledLevel.objects.filter(incident=incident, status="pending").count() == 4
    opened = AuditEntry.objects.filter(action="incident.opened").order_by("pk")
    assert [e.object_id for e in opened] == [str(i.pk) for i in incidents]
    assert Escalation.objects.count() == 3 and verify().ok


def test_a_key_another_delivery_opened_meanwhile_joins_its_incident(post_json, monkeypatch):
    from ops_console.incidents import actions

    real = actions.do_open_incidents

    def other_delivery_first(specs, **kwargs):  # opens fp-b between our lookup and our insert
        monkeypatch.setattr(actions, "do_open_incidents", real)
        actions.do_open_incident(title="the other delivery's", severity=severity("P1"), dedup_key="fp-b")
        return real(specs, **kwargs)

    monkeypatch.setattr(actions, "do_open_incidents", other_delivery_first)
    summary = post_json(AM_URL, am_payload(*[am_alert(fingerprint=fp) for fp in ("fp-a", "fp-b", "fp-c")])).json()
    assert (summary["opened"], summary["joined"]) == (2, 1)
    assert Incident.objects.count() == 3
    assert kinds(Incident.objects.get(dedup_key="fp-b")) == ["opened", "alert_fired"]


def test_an_alert_another_delivery_inserted_meanwhile_is_skipped_and_the_rest_go_in(post_json, monkeypatch):
    from ops_console.incidents import ingest

    real = ingest._insert_new

    def other_delivery_first(rows, now):  # inserts fp-b's alert between our lookup and our insert
        other = next(row for row in rows if row.fingerprint == "fp-b")
        Alert.objects.create(fingerprint=other.fingerprint, starts_at=other.starts_at, status="firing",
                             dedup_key=other.dedup_key)
        return real(rows, now)

    monkeypatch.setattr(ingest, "_insert_new", other_delivery_first)
    summary = post_json(AM_URL, am_payload(*[am_alert(fingerprint=fp) for fp in ("fp-a", "fp-b", "fp-c")])).json()
    assert (summary["opened"], summary["repeated"]) == (2, 1)
    assert sorted(Alert.objects.values_list("fingerprint", flat=True)) == ["fp-a", "fp-b", "fp-c"]
    assert kinds(Incident.objects.get(dedup_key="fp-a")) == ["opened", "alert_fired"]
    assert kinds(Incident.objects.get(dedup_key="fp-b")) == ["opened"]


def test_same_payload_five_times_is_one_incident_and_one_firing_event(post_json):
    for _ in range(5):
        assert post_json(AM_URL, am_payload()).status_code == 200
    incident = Incident.objects.get()
    assert kinds(incident) == ["opened", "alert_fired"]
    assert incident.alerts.get().received_count == 5
    assert WebhookPayload.objects.count() == 5  # every raw body kept


def test_resolved_alert_resolves_the_incident(post_json):
    post_json(AM_URL, am_payload())
    response = post_json(AM_URL, am_payload(am_alert(status="resolved")))
    assert response.json()["incidents_resolved"] == 1
    incident = Incident.objects.get()
    assert incident.status == Status.RESOLVED and incident.resolved_at
    assert kinds(incident) == ["opened", "alert_fired", "alert_resolved", "status_change"]
    # ...and the resolved notice repeated changes nothing more
    post_json(AM_URL, am_payload(am_alert(status="resolved")))
    assert len(kinds(incident)) == 4


def test_resolved_without_auto_resolve_only_records(post_json):
    AlertRouting.objects.filter(pk=1).update(auto_resolve=False)
    post_json(AM_URL, am_payload())
    post_json(AM_URL, am_payload(am_alert(status="resolved")))
    incident = Incident.objects.get()
    assert incident.status == Status.TRIGGERED and kinds(incident)[-1] == "alert_resolved"


def test_incident_stays_open_while_another_alert_fires(post_json):
    AlertRouting.objects.filter(pk=1).update(dedup_labels="alertname")
    post_json(AM_URL, am_payload(am_alert(fingerprint="a"), am_alert(fingerprint="b")))
    post_json(AM_URL, am_payload(am_alert(fingerprint="a", status="resolved")))
    incident = Incident.objects.get()
    assert incident.alerts.count() == 2 and incident.status == Status.TRIGGERED
    post_json(AM_URL, am_payload(am_alert(fingerprint="b", status="resolved")))
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_resolved_before_firing_does_not_open_an_incident(post_json):
    response = post_json(AM_URL, am_payload(am_alert(status="resolved")))
    assert response.status_code == 200 and response.json()["resolved_before_firing"] == 1
    late = post_json(AM_URL, am_payload(am_alert(status="firing")))  # the late firing notice
    assert late.status_code == 200 and late.json()["stale"] == 1
    assert not Incident.objects.exists()
    assert Alert.objects.get().status == "resolved"


def test_the_same_alert_firing_again_later_opens_a_new_incident(post_json):
    post_json(AM_URL, am_payload())
    post_json(AM_URL, am_payload(am_alert(status="resolved")))
    post_json(AM_URL, am_payload(am_alert(starts_at="2026-11-23T11:00:00Z")))
    assert Incident.objects.count() == 2 and Incident.objects.open().count() == 1


def test_warning_maps_to_a_non_paging_severity_and_service_and_runbook(post_json):
    from ops_console.monitoring.models import Service
    from ops_console.runbooks.models import Runbook, RunbookVersion

    service = Service.objects.create(slug="backend", name="Backend API")
    runbook = Runbook.objects.create(slug="high-error-rate", title="High error rate", alerts=["HighErrorRate"])
    assert RunbookVersion  # the runbook needs no version to be linked
    post_json(AM_URL, am_payload(am_alert(labels={"severity": "warning"})))
    incident = Incident.objects.get()
    assert incident.severity.code == "P3" and not incident.severity.pages
    assert list(incident.services.all()) == [service] and incident.runbook == runbook


def test_service_found_by_its_prometheus_job(post_json):
    from ops_console.monitoring.models import Service

    ai_core = Service.objects.create(slug="ai-core", name="AI Core", selector='job="ai_core"')
    post_json(AM_URL, am_payload(am_alert(name="ServiceDown", labels={"job": "ai_core"})))
    assert list(Incident.objects.get().services.all()) == [ai_core]


def test_runbook_from_runbook_url_annotation(post_json):
    from ops_console.runbooks.models import Runbook

    runbook = Runbook.objects.create(slug="service-down", title="Service down", alerts=[])
    post_json(AM_URL, am_payload(am_alert(name="Other", annotations={
        "runbook_url": "http://127.0.0.1:8000/runbooks/service-down/"})))
    assert Incident.objects.get().runbook == runbook

def test_the_runbook_naming_the_alert_comes_before_its_runbook_url_and_archived_ones_never(post_json):
    from ops_console.runbooks.models import Runbook

    Runbook.objects.create(slug="a-archived", title="A archived", alerts=["Disk"], archived=True)
    first = Runbook.objects.create(slug="b-disk", title="B disk", alerts=[{"odd": "entry"}, "Disk"])
    Runbook.objects.create(slug="c-disk", title="C disk", alerts=["Disk"])
    by_url = Runbook.objects.create(slug="service-down", title="Service down", alerts=[])
    post_json(AM_URL, am_payload(
        am_alert(name="Disk", fingerprint="f1", annotations={"runbook_url": "/runbooks/service-down/"}),
        am_alert(name="Other", fingerprint="f2", annotations={"runbook_url": "/runbooks/a-archived/"}),
        am_alert(name="Other2", fingerprint="f3", annotations={"runbook_url": "/runbooks/service-down/"})))
    runbooks = {i.title.split(":")[0]: i.runbook for i in Incident.objects.all()}
    assert runbooks == {"Disk": first, "Other": None, "Other2": by_url}



@pytest.mark.parametrize("body,message", [
    (b"{not json", "malformed JSON"),
    (b"[1, 2]", "JSON object"),
    (json.dumps({"version": "3", "alerts": []}), "version"),
    (json.dumps({"version": "4", "alerts": "nope"}), "\"alerts\" must be a list"),
    (json.dumps(am_payload(am_alert(status="pending"))), "unknown status 'pending'"),
    (json.dumps(am_payload({**am_alert(), "startsAt": "yesterday"})), "startsAt"),
    (json.dumps(am_payload({**am_alert(), "labels": {"a": 1}})), "labels"),
])
def test_bad_body_is_400_with_the_reason_and_kept(post_json, body, message):
    response = post_json(AM_URL, body)
    assert response.status_code == 400
    code, reason, details = error_of(response, "payload")
    assert code == "bad_request" and message in reason
    stored = WebhookPayload.objects.get()
    assert details == {"payload": stored.pk} and response.json()["payload"] == stored.pk  # kept where it was
    assert stored.outcome == "invalid" and message in stored.error
    assert stored.body == (body.decode() if isinstance(body, bytes) else body)
    assert not Incident.objects.exists()


def test_one_bad_alert_refuses_the_whole_batch(post_json):
    response = post_json(AM_URL, am_payload(am_alert(fingerprint="ok"), am_alert(fingerprint="x", status="weird")))
    assert response.status_code == 400 and "alerts[1].status" in error_of(response, "payload")[1]
    assert not Incident.objects.exists() and not Alert.objects.exists()


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_or_wrong_token_is_401_and_nothing_stored(post_json, token):
    response = post_json(AM_URL, am_payload(), token=token)
    assert response.status_code == 401 and error_of(response)[0] == "unauthenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="ops-console"'
    assert not WebhookPayload.objects.exists() and not Incident.objects.exists()


def test_revoked_token_is_refused(post_json, api_token):
    from ops_console.incidents.models import ApiToken

    ApiToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert post_json(AM_URL, am_payload()).status_code == 401


@pytest.mark.parametrize("url", [AM_URL, EVENTS_URL])
@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
@pytest.mark.parametrize("with_token", [True, False])
def test_a_wrong_method_is_405_in_the_error_shape(client, api_token, url, method, with_token):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_token}"} if with_token else {}
    response = getattr(client, method)(url, **headers)
    assert response.status_code == 405 and response["Content-Type"] == "application/json"
    assert response["Allow"] == "POST"
    code, message, details = error_of(response)
    assert code == "method_not_allowed" and method.upper() in message and details == {"allowed": ["POST"]}
    assert not WebhookPayload.objects.exists()


def test_oversized_body_is_413(post_json):
    big = am_payload(am_alert(annotations={"description": "x" * (1024 * 1024)}))
    response = post_json(AM_URL, big)
    assert response.status_code == 413
    code, message, details = error_of(response)
    assert code == "too_large" and "body too large" in message and details == {"max_bytes": 1024 * 1024}
    stored = WebhookPayload.objects.get()
    assert stored.outcome == "too_large" and len(stored.body) <= 64 * 1024
    assert not Incident.objects.exists()


def test_our_failure_keeps_the_delivery_for_the_worker_which_sets_it_aside_after_retries(post_json, monkeypatch):
    from ops_console.incidents import actions, alert_queue

    def broken(*args, **kwargs):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(actions, "do_open_incident", broken)
    monkeypatch.setattr(actions, "do_open_incidents", broken)  # what a delivery opening several calls
    response = post_json(AM_URL, am_payload())
    assert response.status_code == 202 and response.json()["status"] == "queued"  # stored: ours to retry
    assert not Incident.objects.exists() and not Alert.objects.exists()
    stored = WebhookPayload.objects.get()
    assert (stored.outcome, stored.attempts) == ("queued", 1) and "RuntimeError: a bug of ours" in stored.error
    alert_queue.drain()  # the worker retries it, then sets it aside for an admin
    stored.refresh_from_db()
    assert (stored.outcome, stored.attempts) == ("error", alert_queue.MAX_ATTEMPTS)
    monkeypatch.undo()
    assert post_json(AM_URL, am_payload()).status_code == 200  # Alertmanager's next notification
    assert Incident.objects.count() == 1


def test_html_in_annotations_is_shown_as_text(post_json, client_as):
    post_json(AM_URL, am_payload(am_alert(annotations={
        "summary": "<script>alert('x')</script>", "description": "<img src=x onerror=alert(1)>"})))
    incident = Incident.objects.get()
    page = client_as("auditor").get(incident.get_absolute_url()).content.decode()
    assert "<script>alert(" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    board = client_as("auditor").get("/incidents/").content.decode()
    assert "<script>alert(" not in board


def test_events_trigger_acknowledge_resolve(post_json):
    body = {"event_action": "trigger", "dedup_key": "db-disk", "title": "DB disk 95 %", "severity": "P2"}
    first = post_json(EVENTS_URL, body)
    assert first.status_code == 200 and first.json()["result"] == "opened"
    assert post_json(EVENTS_URL, body).json()["result"] == "already open"
    incident = Incident.objects.get()
    assert incident.severity.code == "P2" and incident.source == "events"
    assert post_json(EVENTS_URL, {"event_action": "acknowledge", "dedup_key": "db-disk"}).json()["result"] \
        == "acknowledged"
    assert post_json(EVENTS_URL, {"event_action": "resolve", "dedup_key": "db-disk"}).json()["result"] == "resolved"
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    acknowledged = incident.timeline.get(kind="acknowledged")
    assert acknowledged.data == {"via": "api"} and "API token “alertmanager-test”" in acknowledged.message


@pytest.mark.parametrize("body,message", [
    ({"event_action": "explode", "dedup_key": "k"}, "event_action"),
    ({"event_action": "trigger", "dedup_key": ""}, "dedup_key"),
    ({"event_action": "trigger", "dedup_key": "k"}, "title"),
])
def test_bad_events_are_400(post_json, body, message):
    response = post_json(EVENTS_URL, body)
    assert response.status_code == 400
    code, reason, details = error_of(response, "payload")
    assert code == "bad_request" and message in reason
    assert details == {"payload": WebhookPayload.objects.get().pk} == {"payload": response.json()["payload"]}
