GRANTS = {
    "responder": ["history.view_postmortem", "history.view_postmortemversion"],
    "commander": ["history.edit_postmortem"],
}
