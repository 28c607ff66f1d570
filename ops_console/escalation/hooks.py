"""What the incidents app tells the escalation engine. Each hook is called
inside the incident action's transaction; the engine writes its due rows there
so an escalation exists exactly when the incident change commits."""


def incident_opened(incident):
    """Freeze the policy in force onto the incident and schedule its levels."""
    from . import engine

    engine.start(incident)


def incidents_opened(incidents, services):
    """incident_opened() for several incidents the caller has just created, in
    a fixed number of queries; `services`: {incident pk: [its services]}."""
    from . import engine

    engine.start_many(incidents, opened_with=services)


def incident_acknowledged(incident):
    """Stop the levels that stop on acknowledgement."""
    from . import engine

    engine.acknowledged(incident)


def incident_resolved(incident):
    """Stop every level (also called on close)."""
    from . import engine

    engine.resolved(incident)


def incident_reopened(incident):
    """Resolved -> triggered: the escalation starts again from its first level,
    with the policy frozen for the incident's current severity."""
    from . import engine

    engine.reopened(incident)


def severity_changed(incident, old_severity):
    """Restart the clock on the new severity's levels."""
    from . import engine

    engine.restart(incident)


def board_status(incidents):
    """{incident.pk: {"paged": [names], "next_role": str|None, "next_at": datetime|None, "next_if": str,
    "level": int|None}} for the commander's board, in a fixed number of queries. "level" is the
    highest level fired so far; "next_*" the next pending level and the condition it fires on."""
    from . import engine

    return engine.board_status(incidents)


def active_windows(services, at=None):
    """The maintenance windows active at `at` for these services (for the board)."""
    from .maintenance import active_windows as active

    return active(services, at)
