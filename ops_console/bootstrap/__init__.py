"""`manage.py bootstrap`: what every installation needs before its first sign-in
(roles, severities, the escalation matrix, routing, the runbook library), and nothing fake."""
