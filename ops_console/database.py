"""Database calls that outlast a blip. A PostgreSQL restart or failover drops
every open connection; a worker in the middle of a step reconnects and carries
on instead of failing the step or reporting itself lost."""
import logging
import time

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)

BLIP_ERRORS = (OperationalError, InterfaceError)


def drop_broken_connection():
    """Close the connection if the last error left it unusable, so the next
    query opens a new one (Django only does this between requests and tasks)."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def outlasting_blips(call, *, retry_for, what="database call"):
    """call() again, on a new connection, while the database is unreachable,
    for up to retry_for seconds; then the last error is raised. Only for calls
    that are safe to repeat. Inside an outer transaction it calls once: a dropped
    connection has lost the outer transaction's work, which only its owner can redo."""
    if connection.in_atomic_block:
        return call()
    deadline = time.monotonic() + retry_for
    delay = 0.1
    while True:
        try:
            return call()
        except BLIP_ERRORS as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("%s failed (%s); trying again on a new connection in %.1f s", what, exc, delay)
            connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
