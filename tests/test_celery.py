"""The Celery app with a real worker and Redis: a worker hears the broker again
within a second or two of a Redis restart."""
import time

import pytest

from ops_console.runbooks.models import StepRun
from tests.runbooks.builders import shell, start
from tests.runbooks.test_tasks import celery_broker
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def test_a_worker_takes_work_within_two_seconds_of_a_redis_restart(worker_control, private_redis, make_user):
    with celery_broker(private_redis.url):
        worker = worker_control.start(redis_url=private_redis.url)
        private_redis.stop()
        time.sleep(3)  # the outage itself: long enough for the worker to notice and start retrying
        private_redis.start()
        back = time.monotonic()
        run = start(shell("echo after the restart"), actor=make_user("responder"))  # dispatched on commit, Redis is up
        wait_until(lambda: StepRun.objects.get(run=run).status == "succeeded", timeout=30,
                   message="the step sent after the restart to run")
        took = time.monotonic() - back
        assert worker.alive()
    assert took < 2.0, f"the worker took {took:.1f} s after Redis came back"
