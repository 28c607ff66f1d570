"""How long raw webhook bodies are kept: long enough to inspect a bad
delivery, not forever (a busy Alertmanager sends one every group interval)."""
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import WebhookPayload

DELETE_BATCH = 5000


def payload_retention():
    return timedelta(days=getattr(settings, "WEBHOOK_PAYLOAD_RETENTION_DAYS", 30))


def prune_payloads(now=None):
    """Delete payloads older than the retention, a batch at a time (short
    transactions beside live ingestion). Returns how many went."""
    cutoff = (now or timezone.now()) - payload_retention()
    deleted = 0
    while True:
        # A delivery still queued is an alert not applied yet: never pruned, however old.
        ids = list(WebhookPayload.objects.filter(received_at__lt=cutoff).exclude(outcome=WebhookPayload.Outcome.QUEUED)
                   .values_list("pk", flat=True)[:DELETE_BATCH])
        if not ids:
            return deleted
        deleted += WebhookPayload.objects.filter(pk__in=ids).delete()[0]
