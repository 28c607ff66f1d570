"""What each role may do with runbooks and runs (the auditor gets every view_*)."""
VIEW = ["runbooks.view_runbook", "runbooks.view_runbookversion", "runbooks.view_run", "runbooks.view_steprun",
        "runbooks.view_drillresult"]

GRANTS = {
    "responder": [*VIEW, "runbooks.start_run", "runbooks.confirm_step"],
    "commander": ["runbooks.approve_step", "runbooks.cancel_run"],
}
