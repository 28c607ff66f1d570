"""What the incident exports hold: an incident as a flat row, its timeline events,
its runs with every step and every kept attempt of each step."""

INCIDENT_FIELDS = ("reference", "title", "severity", "status", "services", "commander", "detected_at",
                   "acknowledged_at", "mitigated_at", "resolved_at", "closed_at", "seconds_to_acknowledge",
                   "seconds_to_resolve", "summary", "impact", "url")
EVENT_FIELDS = ("incident", "created_at", "kind", "actor", "message", "data")


def _seconds(start, end):
    return round((end - start).total_seconds(), 3) if start and end else None


def incident_row(incident, base_url=""):
    """One incident as a flat dict for the exports (services prefetched)."""
    return {
        "reference": incident.reference,
        "title": incident.title,
        "severity": incident.severity.code,
        "status": incident.status,
        "services": ",".join(sorted(s.slug for s in incident.services.all())),
        "commander": incident.commander.get_username() if incident.commander_id else "",
        "detected_at": incident.detected_at,
        "acknowledged_at": incident.acknowledged_at,
        "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
        "seconds_to_acknowledge": _seconds(incident.detected_at, incident.acknowledged_at),
        "seconds_to_resolve": _seconds(incident.detected_at, incident.resolved_at),
        "summary": incident.summary,
        "impact": incident.impact,
        "url": f"{base_url}/incidents/{incident.reference}/",
    }


def event_row(event, reference):
    return {"incident": reference, "created_at": event.created_at, "kind": event.kind,
            "actor": event.actor_name, "message": event.message, "data": event.data}


def run_row(link):
    run = link.run
    return {"run": run.pk, "runbook": run.runbook.slug, "version": run.version.number,
            "version_sha256": run.version.sha256, "status": run.status, "parameters": run.parameters,
            "started_by": run.started_by.get_username() if run.started_by_id else "",
            "created_at": run.created_at, "finished_at": run.finished_at}


def attempt_data(attempt):
    """One kept attempt of a step as an export shows it: what ran, what it printed, when, who clicked."""
    return {"attempt": attempt.number, "status": attempt.status, "command": attempt.command,
            "output": attempt.output, "output_cut": attempt.output_cut, "exit_code": attempt.exit_code,
            "value": attempt.value, "expectation_met": attempt.expectation_met, "error": attempt.error,
            "started_at": attempt.started_at, "finished_at": attempt.finished_at, "hostname": attempt.hostname,
            "confirmed_by": attempt.confirmed_by.get_username() if attempt.confirmed_by_id else ""}


def step_data(step_run):
    """A step of a run with every attempt (step_run.attempt_records prefetched, oldest first)."""
    return {"step": step_run.index + 1, "kind": step_run.kind, "title": step_run.title, "status": step_run.status,
            "attempts": [attempt_data(a) for a in step_run.attempt_records.all()]}


def attempt_event_row(attempt, step_run, reference):
    """A kept attempt as a row of an incident's CSV (the columns of its timeline events)."""
    data = {"run": step_run.run_id, "step": step_run.index + 1, "title": step_run.title, **attempt_data(attempt)}
    exit_code = f", exit {attempt.exit_code}" if attempt.exit_code is not None else ""
    return {"incident": reference, "created_at": attempt.finished_at, "kind": "step.attempt",
            "actor": data["confirmed_by"],
            "message": f"run {step_run.run_id} step {step_run.index + 1} ({step_run.title}) attempt {attempt.number}: "
                       f"{attempt.status}{exit_code}",
            "data": data}
