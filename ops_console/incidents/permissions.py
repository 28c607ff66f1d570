GRANTS = {
    "responder": [
        "incidents.view_incident", "incidents.view_timelineevent", "incidents.view_alert",
        "incidents.acknowledge_incident", "incidents.add_note",
    ],
    "commander": ["incidents.manage_incident", "incidents.view_webhookpayload"],
    # Auditors get every view_* (payloads, tokens, routing included) automatically.
}
