GRANTS = {
    "responder": [
        "incidents.view_incident", "incidents.view_timelineevent", "incidents.view_alert",
        "incidents.acknowledge_incident", "incidents.add_note",
    ],
    "commander": ["incidents.manage_incident", "incidents.view_webhookpayload"],
    # Auditors get every view_* (payloads, tokens, routing included) automatically.
}

# A responder may take an incident they respond to down to mitigated or resolved;
# commanders and admins (manage_incident) may make any change the state machine allows.
RESPONDER_STATUSES = ("mitigated", "resolved")


def status_changes_for(user, incident):
    """The statuses `user` may move `incident` to from the incident page."""
    allowed = incident.allowed_transitions()
    if user.has_perm("incidents.manage_incident"):
        return list(allowed)
    if user.has_perm("incidents.acknowledge_incident") and incident.responders.filter(pk=user.pk).exists():
        return [status for status in allowed if status in RESPONDER_STATUSES]
    return []
