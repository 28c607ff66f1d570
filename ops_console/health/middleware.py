import time

from .metrics import LATENCY, REQUESTS


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
