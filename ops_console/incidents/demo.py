"""Demo incidents with timelines. Idempotent: runs on every start."""
from django.db import transaction

from ops_console.monitoring.models import Service
from ops_console.runbooks.models import Runbook

from . import actions
from .models import Incident, Severity, Status

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

