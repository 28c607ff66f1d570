"""Builders for incident tests: incidents, tokens and Alertmanager payloads."""
import json

import pytest

from ops_console.incidents import actions
from ops_console.incidents.intake_config import do_create_token
from ops_console.incidents.models import Severity

AM_URL = "/api/v1/alerts/alertmanager"
EVENTS_URL = "/api/v1/events"


def severity(code):
    return Severity.objects.get(code=code)


def open_incident(title="Backend is down", code="P1", **kw):
    return actions.do_open_incident(title=title, severity=severity(code), **kw)


def am_alert(name="HighErrorRate", status="firing", fingerprint="fp-1", starts_at="2026-11-23T10:00:00.123456789Z",
             labels=None, annotations=None, ends_at=None):
    """One alert as Alertmanager v4 sends it."""
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "critical", "job": "backend", **(labels or {})},
        "annotations": {"summary": "High error rate detected", **(annotations or {})},
        "startsAt": starts_at,
        "endsAt": ends_at or ("0001-01-01T00:00:00Z" if status == "firing" else "2026-11-23T10:05:00Z"),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fingerprint,
    }


def am_payload(*alerts, status=None):
    """A whole v4 webhook body around some alerts (with a key newer Alertmanagers add)."""
    alerts = list(alerts) or [am_alert()]
    return {
        "version": "4", "groupKey": '{}:{alertname="HighErrorRate"}', "truncatedAlerts": 0,
        "status": status or alerts[0]["status"], "receiver": "ops-console",
        "groupLabels": {"alertname": alerts[0]["labels"].get("alertname", "")},
        "commonLabels": alerts[0]["labels"], "commonAnnotations": alerts[0]["annotations"],
        "externalURL": "http://alertmanager:9093", "alerts": alerts, "someFutureKey": {"ignored": True},
    }


@pytest.fixture
def api_token(db):
    _, raw = do_create_token("alertmanager-test", acting_user=None)
    return raw


@pytest.fixture
def post_json(client, api_token):
    """post_json(url, body) with the bearer token; body may be a dict or raw bytes/str."""

    def post(url, body, token=api_token, **extra):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        return client.post(url, data=data, content_type="application/json", **headers, **extra)

    return post
