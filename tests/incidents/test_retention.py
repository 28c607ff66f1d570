from datetime import timedelta

from django.utils import timezone

from ops_console.incidents.models import Alert, WebhookPayload
from ops_console.incidents.retention import prune_payloads

from .conftest import am_payload


def test_old_payloads_go_and_alerts_keep_their_data(db, post_json):
    from .conftest import AM_URL

    post_json(AM_URL, am_payload())
    old = WebhookPayload.objects.get()
    WebhookPayload.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=31))
    recent = WebhookPayload.objects.create(source="alertmanager", outcome="accepted")
    assert prune_payloads() == 1
    assert list(WebhookPayload.objects.all()) == [recent]
    alert = Alert.objects.get()
    assert alert.last_payload is None and alert.labels["alertname"] == "HighErrorRate"


def test_a_queued_delivery_is_never_pruned(db):
    old = timezone.now() - timedelta(days=90)
    queued = WebhookPayload.objects.create(source="alertmanager", outcome="queued", received_at=old)
    WebhookPayload.objects.create(source="alertmanager", outcome="accepted", received_at=old)
    assert prune_payloads() == 1
    assert list(WebhookPayload.objects.all()) == [queued]
