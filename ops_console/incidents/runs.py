"""Links runbook runs to incidents: the engine's run_started / run_finished
signals (sent inside its transaction) name the incident in run.context."""
from .models import Incident, IncidentRun
from .timeline import Kind, add_event


def _incident_of(run):
    reference = (run.context or {}).get("incident")
    if not reference:
        return None
    return Incident.objects.by_reference(reference).first()


def on_run_started(sender, run, **kwargs):
    incident = _incident_of(run)
    if incident is None:
        return
    _, created = IncidentRun.objects.get_or_create(run=run, defaults={"incident": incident})
    if created:
        add_event(incident, Kind.RUN_STARTED, actor=run.started_by,
                  message=f"Run {run.pk} of runbook “{run.runbook.title}” started.",
                  data={"run": run.pk, "runbook": run.runbook.slug})


def on_run_finished(sender, run, **kwargs):
    incident = _incident_of(run)
    if incident is None:
        return
    IncidentRun.objects.get_or_create(run=run, defaults={"incident": incident})
    add_event(incident, Kind.RUN_FINISHED, message=f"Run {run.pk} of runbook “{run.runbook.title}” {run.status}.",
              data={"run": run.pk, "runbook": run.runbook.slug, "status": run.status})
