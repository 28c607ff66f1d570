"""Audit metrics read from the database at scrape time: how many entries the
log holds, failed sign-ins lately (a rise is worth an alert), and the newest
head witnessed outside the database (witness.py)."""
import datetime as dt

from django.db.models import Max
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

FAILED_SIGN_IN_WINDOW = dt.timedelta(minutes=15)


class AuditCollector:
    def collect(self):
        from axes.models import AccessFailureLog

        from .models import AuditEntry, ChainWitness

        # The newest id, not COUNT(*): entries are never deleted, and a count of a million rows is not free.
        entries = GaugeMetricFamily("ops_console_audit_entries", "Entries in the audit log (the newest id)")
        entries.add_metric([], AuditEntry.objects.aggregate(n=Max("id"))["n"] or 0)
        yield entries
        failed = GaugeMetricFamily("ops_console_failed_sign_ins_recent", "Failed sign-ins in the last 15 minutes")
        since = timezone.now() - FAILED_SIGN_IN_WINDOW
        # Failed sign-ins are kept by django-axes, not chained (audit/signals.py).
        failed.add_metric([], AccessFailureLog.objects.filter(attempt_time__gte=since).count())
        yield failed
        mark = ChainWitness.objects.filter(pk=1).values_list("entry_id", "witnessed_at").first() or (0, None)
        witnessed = GaugeMetricFamily("ops_console_audit_witnessed_entry",
                                      "The newest audit entry whose hash was witnessed outside the database")
        witnessed.add_metric([], mark[0])
        yield witnessed
        at = GaugeMetricFamily("ops_console_audit_witnessed_at_seconds",
                               "When the chain head was last witnessed (Unix time; 0: never)")
        at.add_metric([], mark[1].timestamp() if mark[1] else 0)
        yield at

    def describe(self):
        return []


COLLECTOR = AuditCollector()
# Registered once, when the app's ready() first imports this module.
REGISTRY.register(COLLECTOR)
