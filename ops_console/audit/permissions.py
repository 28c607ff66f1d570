GRANTS = {
    "responder": ["audit.view_postmortem", "audit.view_postmortemversion"],
    "commander": ["audit.edit_postmortem"],
    "auditor": ["audit.export_auditentry"],
}
