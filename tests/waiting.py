"""Waiting in tests for something another process or thread does (a Celery
worker, a live server, Prometheus, a browser): poll a condition, never sleep a
fixed time and hope."""
import time


def wait_until(condition, timeout=20, *, interval=0.2, message="the condition"):
    """Call condition() every `interval` seconds until it returns something true,
    and return that; fail the test after `timeout` seconds, naming `message`
    (what was awaited). The condition is always tried at least once."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {message}")
        time.sleep(interval)
