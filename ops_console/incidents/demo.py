"""Demo incidents with timelines, and the API token the local Alertmanager
uses (OPS_CONSOLE_ALERTMANAGER_TOKEN). Idempotent: runs on every start."""
import os

from django.db import transaction

from ops_console.monitoring.models import Service
from ops_console.runbooks.models import Runbook

from . import actions
from .intake_config import do_create_token
from .models import ApiToken, Incident, Severity, Status, hash_token

TOKEN_ENV = "OPS_CONSOLE_ALERTMANAGER_TOKEN"
DEMO_INCIDENTS = [
    dict(key="demo:high-error-rate", title="HighErrorRate: backend 5xx above 1 %", severity="P1", service="backend",
         runbook="high-error-rate", statuses=[Status.ACKNOWLEDGED],
         summary="Error rate on the backend API has been above the 1 % SLO for 5 minutes.",
         impact="About 3 % of API requests fail with 502.",
         notes=["Deploy `backend@4f2c1` went out 10 minutes before the alert. Rolling back is the first suspect.",
                "Rollback started; watching the error rate."]),
    dict(key="demo:ai-backlog", title="AIProcessingBacklog: more than 50 requests in progress", severity="P3",
         service="ai-core", runbook="ai-processing-backlog", statuses=[],
         summary="AI Core has had more than 50 requests in progress for 5 minutes.", impact="Slower analyses.",
         notes=[]),
    dict(key="demo:service-down", title="ServiceDown: ai_core", severity="P0", service="ai-core",
         runbook="service-down", statuses=[Status.ACKNOWLEDGED, Status.MITIGATED, Status.RESOLVED, Status.CLOSED],
         summary="The ai_core target was down for 4 minutes after a node drain.", impact="All analyses failed.",
         notes=["Pods rescheduled on the remaining nodes; the target is up again."]),
]


def load(stdout):
    load_token(stdout)
    for spec in DEMO_INCIDENTS:
        if Incident.objects.filter(source="demo", dedup_key=spec["key"]).exists():
            continue
        with transaction.atomic():
            incident = actions.do_open_incident(
                title=spec["title"], severity=Severity.objects.get(code=spec["severity"]), source="demo",
                services=list(Service.objects.filter(slug=spec["service"])), summary=spec["summary"],
                impact=spec["impact"], dedup_key=spec["key"],
                runbook=Runbook.objects.filter(slug=spec["runbook"]).first())
            for note in spec["notes"]:
                actions.do_add_note(incident, note, acting_user=None)
            for status in spec["statuses"]:
                actions.do_change_status(incident, status, acting_user=None, via="demo")
        stdout.write(f"  incidents: demo incident {incident.reference} {incident.title}")


def load_token(stdout):
    raw = os.environ.get(TOKEN_ENV, "").strip()
    if not raw or ApiToken.objects.filter(token_hash=hash_token(raw)).exists():
        return
    token, _ = do_create_token("alertmanager (local)", acting_user=None, raw=raw)
    stdout.write(f"  incidents: API token {token.prefix}… for the local Alertmanager (from {TOKEN_ENV})")
