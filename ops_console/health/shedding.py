"""Load shedding for the machine-facing API: at most OPS_CONSOLE_API_MAX_INFLIGHT
requests on /api/ paths run at once in this process; the next one gets 503 with
Retry-After at once instead of queueing until the database or the balancer
times out. 503, never 429: Alertmanager retries a 5xx but drops a 4xx for good."""
import json
import threading

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import Counter

from .metrics import IN_PROCESS

API_PREFIX = "/api/"
RETRY_AFTER_SECONDS = 5
SHED = Counter("ops_console_api_shed_total", "API requests answered 503 because too many were in flight",
               registry=IN_PROCESS)


class LoadSheddingMiddleware:
    """A counting semaphore that never waits: a full gate means "shed now".
    The limit is read per request (a settings change applies at once)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.lock = threading.Lock()
        self.inflight = 0

    def __call__(self, request):
        limit = settings.API_MAX_INFLIGHT
        if limit <= 0 or not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        with self.lock:
            full = self.inflight >= limit
            if not full:
                self.inflight += 1
        if full:
            SHED.inc()
            return shed_response(limit)
        try:
            return self.get_response(request)
        finally:
            with self.lock:
                self.inflight -= 1


def shed_response(limit):
    body = {"error": "overloaded", "reason": f"{limit} API requests already in flight in this process "
                                             f"(OPS_CONSOLE_API_MAX_INFLIGHT); retry in {RETRY_AFTER_SECONDS} s"}
    response = HttpResponse(json.dumps(body), status=503, content_type="application/json")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
