"""The default severities P0-P3 and the alert routing from the source documents: the
escalation matrix (seeds/003) gives the first escalation at 30 minutes, so the
acknowledgement targets sit well inside it; critical alerts page at once and
warnings wait for business hours (seeds/000), so critical -> P1 (pages) and
warning -> P3 (a ticket, no page; seeds/002 routes only critical to the pager).

Resolution targets follow the reports' MTTR where they differ (docs/shipped-set.md):
P0 15 min (004: RTO 15 minutes, MTTR < 15 minutes), P1 30 min (002: MTTR < 30
minutes, the SLO alerts' incidents), P2 2 h (no report gives one: when the matrix
tells the engineering manager), P3 5 days (a ticket). Migration 0005 moves
existing installs from the first defaults (4 h, 8 h, 1 day) unless an admin
changed them."""
from datetime import timedelta

from django.apps import apps as global_apps

SEVERITIES = [
    ("P0", "Critical", 0, "Complete outage or data loss risk for users: the service is down or corrupting data. "
     "Page immediately; the incident commander joins at 30 minutes, VP Engineering at 1 hour, CTO at 2 hours.",
     timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=15), True),
    ("P1", "High", 1, "Major degradation: an SLO is being violated (error rate, latency, availability) for many "
     "users. Page the on-call SRE; senior SRE at 30 minutes, engineering manager at 1 hour.",
     timedelta(minutes=15), timedelta(minutes=30), timedelta(minutes=30), True),
    ("P2", "Medium", 2, "Partial degradation with a workaround, or a risk that will become user-visible. "
     "Page the on-call SRE; senior SRE at 30 minutes, engineering manager at 2 hours.",
     timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2), True),
    ("P3", "Low", 3, "Minor issue or warning: no user impact yet. A ticket, handled in business hours; no page.",
     timedelta(hours=24), None, timedelta(days=5), False),
]
MAPPINGS = [("critical", "P1"), ("warning", "P3"), ("info", "P3"),
            ("p0", "P0"), ("p1", "P1"), ("p2", "P2"), ("p3", "P3")]


def ensure_defaults(apps=global_apps):
    """Create the severities and the routing when missing; never changes what
    an admin edited. Runs in the data migration and after every migrate (a
    test flush empties the tables)."""
    Severity = apps.get_model("incidents", "Severity")
    AlertRouting = apps.get_model("incidents", "AlertRouting")
    SeverityMapping = apps.get_model("incidents", "SeverityMapping")
    by_code = {}
    for code, name, rank, definition, ack, cadence, resolution, pages in SEVERITIES:
        by_code[code], _ = Severity.objects.get_or_create(code=code, defaults=dict(
            name=name, rank=rank, definition=definition, ack_target=ack, update_cadence=cadence,
            resolution_target=resolution, pages=pages))
    routing, created = AlertRouting.objects.get_or_create(pk=1, defaults=dict(default_severity=by_code["P3"]))
    if created:  # an admin may have removed a default mapping since
        SeverityMapping.objects.bulk_create(SeverityMapping(routing=routing, value=value, severity=by_code[code])
                                            for value, code in MAPPINGS)
