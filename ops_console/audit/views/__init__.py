"""The auditor's pages: the audit log, incident history, reports, postmortems."""
