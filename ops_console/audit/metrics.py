"""Audit metrics read from the database at scrape time: how many entries the
log holds, and failed sign-ins lately (a rise is worth an alert)."""
import datetime as dt

from django.db.models import Max
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

FAILED_SIGN_IN_WINDOW = dt.timedelta(minutes=15)


class AuditCollector:
    def collect(self):
        from .models import AuditEntry

        # The newest id, not COUNT(*): entries are never deleted, and a count of a million rows is not free.
        entries = GaugeMetricFamily("ops_console_audit_entries", "Entries in the audit log (the newest id)")
        entries.add_metric([], AuditEntry.objects.aggregate(n=Max("id"))["n"] or 0)
        yield entries
        failed = GaugeMetricFamily("ops_console_failed_sign_ins_recent", "Failed sign-ins in the last 15 minutes")
        since = timezone.now() - FAILED_SIGN_IN_WINDOW
        failed.add_metric([], AuditEntry.objects.filter(action="auth.login_failed", created_at__gte=since).count())
        yield failed

    def describe(self):
        return []


COLLECTOR = AuditCollector()
