import pytest
from django.test import override_settings


def test_healthz_needs_nothing(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_when_database_and_broker_answer(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.integration
def test_readyz_turns_503_with_the_reason_when_redis_stops_and_recovers(client, db, private_redis):
    with override_settings(CELERY_BROKER_URL=private_redis.url):
        assert client.get("/readyz").status_code == 200
        private_redis.stop()
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
        assert body["checks"]["broker"].startswith("error: ConnectionError")
        private_redis.start()
        assert client.get("/readyz").status_code == 200


def test_metrics_exposes_request_counters(client, db):
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'ops_console_http_requests_total{method="GET",status="200",view="health:healthz"}' in text
    assert "ops_console_http_request_duration_seconds_bucket" in text


def test_metrics_token_is_enforced_when_configured(client, db):
    with override_settings(METRICS_TOKEN="s3cret"):
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_probes_reject_post(client, db):
    assert client.post("/healthz").status_code == 405
