"""The one JSON error shape of everything under /api/v1/ (docs/api.md):
    {"error": {"code": "...", "message": "...", "details": ...}}
Here, below every app, so that the alert intake (incidents) and the REST API
(api, above incidents) answer alike without the intake importing upwards."""
from django.http import JsonResponse

CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 422: "invalid"}


def error_response(status, message, details=None, code=None, **extra):
    """`extra`: top-level fields an older client already reads beside "error" (the intake's
    "payload"), kept so that nothing it relied on goes away."""
    response = JsonResponse({"error": {"code": code or CODES.get(status, "error"), "message": message,
                                       "details": details}, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="ops-console"'
    if status == 405 and isinstance(details, dict) and details.get("allowed"):
        response["Allow"] = ", ".join(details["allowed"])  # HTTP requires it on a 405
    return response
