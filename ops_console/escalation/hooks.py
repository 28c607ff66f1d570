"""What the incidents app tells the escalation engine. Each hook is called
inside the incident action's transaction; the engine writes its due rows there
so an escalation exists exactly when the incident change commits."""


def incident_opened(incident):
    """Freeze the policy in force onto the incident and schedule its levels."""


def incident_acknowledged(incident):
    """Stop the levels that stop on acknowledgement."""


def incident_resolved(incident):
    """Stop every level (also called on close)."""


def severity_changed(incident, old_severity):
    """Restart the clock on the new severity's levels."""


def board_status(incidents):
    """{incident.pk: {"paged": [names], "next_role": str|None, "next_at": datetime|None, "level": int|None}}
    for the commander's board, in a fixed number of queries."""
    return {incident.pk: {"paged": [], "next_role": None, "next_at": None, "level": None} for incident in incidents}
