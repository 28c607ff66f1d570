GRANTS = {
    "responder": [
        "escalation.view_responserole", "escalation.view_rotation", "escalation.view_page",
        "escalation.acknowledge_page", "escalation.view_maintenancewindow",
        # Self-service overrides: a rotation's member takes or swaps shifts for themselves (overrides.py).
        "escalation.view_rotationoverride", "escalation.add_rotationoverride", "escalation.delete_rotationoverride",
        # One's own contact methods (views.py keeps everyone to their own).
        "escalation.view_contactmethod", "escalation.add_contactmethod", "escalation.change_contactmethod",
        "escalation.delete_contactmethod",
    ],
    "commander": [
        "escalation.view_escalationpolicy", "escalation.add_maintenancewindow",
        "escalation.change_maintenancewindow",
        # Overrides for anyone on any rotation, not only oneself.
        "escalation.change_rotationoverride",
    ],
}
