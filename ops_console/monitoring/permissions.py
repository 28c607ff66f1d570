"""Who may look at services: every role (auditors get view_* automatically)."""
GRANTS = {
    "responder": ["monitoring.view_service"],
}
