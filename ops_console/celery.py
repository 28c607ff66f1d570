"""The Celery app. The database is the source of truth; the broker only rings
the doorbell ("run step X of run Y"), so every task is idempotent."""
import functools
import os

from celery import Celery
from celery.worker.consumer import Consumer
from kombu.common import ignore_errors

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")

app = Celery("ops_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Workers do beat's essential work when its ticks stop; /metrics shows the last tick's age.
from . import beat_watch  # noqa: E402,F401 - connects its signals and registers its collector


class PromptReconnectConsumer(Consumer):
    """The worker's consumer, reconnecting to a broker that came back within a
    second. Celery retries a lost broker connection at 2, 4, 6 ... s apart, so a
    6 s Redis restart left workers deaf for up to 6 s more, and escalations as late."""

    def on_connection_error_after_connected(self, exc):
        # Celery collects the lost connection (which drops kombu's transport client) and then
        # closes it; closing the default channel restores its unacknowledged messages, and with
        # the client gone that raised AttributeError ('NoneType' has no attribute 'hostname')
        # and stopped the worker ("Unrecoverable error"). Closed first, while the client is
        # there, the restore fails as a connection error (ignored: the messages wait in Redis's
        # unacked set, and the reconciler sends a queued step again sooner); the later close
        # of an already closed channel does nothing.
        channel = self.connection._default_channel if self.connection is not None else None
        if channel is not None:
            ignore_errors(self.connection, channel.close)
        super().on_connection_error_after_connected(exc)

    def ensure_connected(self, conn):
        conn.ensure_connection = functools.partial(conn.ensure_connection, interval_start=0, interval_step=0.5,
                                                   interval_max=1)
        return super().ensure_connected(conn)
