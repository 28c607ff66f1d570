import json
import logging
import time

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse

from .metrics import LATENCY, REQUESTS

log = logging.getLogger(__name__)
API_PREFIX = "/api/"
DATABASE_RETRY_AFTER_SECONDS = 5


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        # The route name, not the path: paths carry ids and would explode the label set.
        view = match.view_name if match else "unmatched"
        LATENCY.labels(request.method, view).observe(time.perf_counter() - start)
        REQUESTS.labels(request.method, view, str(response.status_code)).inc()
        return response


def unreachable(exception):
    """A lost or refused connection, or a server shutting down; not a query's own
    failure (a lock timeout, a deadlock), which is an error like any other."""
    if isinstance(exception, InterfaceError):
        return True
    if not isinstance(exception, OperationalError):
        return False
    state = getattr(exception.__cause__, "sqlstate", None)
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


class DatabaseUnavailableMiddleware:
    """A view that cannot reach the database answers 503 with Retry-After, not a
    500: JSON on /api/ (Alertmanager and other senders retry a 5xx), a short page
    elsewhere. Connections are checked before reuse (CONN_HEALTH_CHECKS), so this
    is the database being down, not a stale connection after it came back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not unreachable(exception):
            return None
        log.warning("database unreachable during %s %s: %s", request.method, request.path, exception)
        retry = f"retry in {DATABASE_RETRY_AFTER_SECONDS} s"
        if request.path.startswith(API_PREFIX):
            response = HttpResponse(json.dumps({"error": "unavailable", "reason": f"the database is unreachable; "
                                                                                   f"{retry}"}),
                                    status=503, content_type="application/json")
        else:
            response = HttpResponse("<!doctype html><title>Unavailable</title><h1>The console's database is "
                                    f"unreachable</h1><p>Nothing was changed; {retry}.</p>", status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
