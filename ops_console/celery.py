"""The Celery app. The database is the source of truth; the broker only rings
the doorbell ("run step X of run Y"), so every task is idempotent."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ops_console.settings")

app = Celery("ops_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
