"""The Celery app. The database is the source of truth; the broker only rings
the doorbell ("run step X of run Y"), so every task is idempotent."""
import functools
import os

from celery import Celery
from celery.worker.consumer import Consumer

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

    def ensure_connected(self, conn):
        conn.ensure_connection = functools.partial(conn.ensure_connection, interval_start=0, interval_step=0.5,
                                                   interval_max=1)
        return super().ensure_connected(conn)
