GRANTS = {
    "auditor": ["audit.export_auditentry"],
}
