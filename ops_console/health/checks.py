"""What /readyz checks: the database and the broker answer."""
import redis
from django.conf import settings
from django.db import connection


def database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def broker():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


CHECKS = {"database": database, "broker": broker}


def run_checks():
    """{name: "ok" | "error: reason"} and whether all passed."""
    results, healthy = {}, True
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - the reason is the answer
            healthy = False
            results[name] = f"error: {type(exc).__name__}: {exc}"
    return results, healthy
