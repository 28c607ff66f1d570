"""The health middleware with real services: an unreachable database is a 503
with Retry-After on the API, never an HTML 500."""
import os

import pytest
from django.conf import settings
from django.db import connection

from devstack import services
from ops_console.incidents.intake_config import do_create_token
from ops_console.incidents.models import Alert
from tests.system.alertmanager import am_payload, post, storm_alert
from tests.system.test_faults import restart_test_postgres

pytestmark = [pytest.mark.integration]


def test_connections_are_checked_before_reuse():
    # A persistent connection that died with a database restart is replaced, not handed to a request.
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_json_503_with_retry_after_while_the_database_is_down(live_server):
    if not os.environ.get("OPS_CONSOLE_TEST_PGDATA"):
        pytest.fail("this test stops the test PostgreSQL: run it through `python3 -m devstack test`")
    _, token = do_create_token("alertmanager (outage test)", acting_user=None)
    postgres = services.Postgres(int(os.environ["OPS_CONSOLE_TEST_PGPORT"]), os.environ["OPS_CONSOLE_TEST_PGDATA"])
    alert = storm_alert(1, "checkout")
    postgres.stop()
    try:
        connection.close()
        status, headers, body = post(live_server.url, token, am_payload(alert))
    finally:
        restart_test_postgres(postgres)
    connection.close()  # the test's own connection died with the server
    assert status == 503
    assert headers["Retry-After"] == "5" and headers["Content-Type"] == "application/json"
    assert body["error"] == "unavailable" and "database" in body["reason"]
    # Alertmanager's retry, once the database is back, lands.
    assert post(live_server.url, token, am_payload(alert))[0] in (200, 202)
    assert Alert.objects.filter(fingerprint=alert["fingerprint"]).count() == 1
