GRANTS = {
    "responder": [
        "escalation.view_responserole", "escalation.view_rotation", "escalation.view_page",
        "escalation.acknowledge_page", "escalation.view_maintenancewindow",
    ],
    "commander": [
        "escalation.view_escalationpolicy", "escalation.add_maintenancewindow",
        "escalation.change_maintenancewindow",
    ],
}
