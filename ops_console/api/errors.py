"""The API's one error shape, for every refusal:
    {"error": {"code": "...", "message": "...", "details": ...}}
400 bad_request, 401 unauthenticated, 403 forbidden, 404 not_found (also any unknown
path under /api/v1/: urls.py), 405 method_not_allowed, 409 conflict, 413 too_large (the
intake), 422 invalid (a body or query the schema refuses; details lists each field and
why). The shape itself is ui.json_errors', which the alert intake answers with too."""
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as SchemaError

from ops_console.ui.json_errors import CODES, error_response

__all__ = ["CODES", "ApiError", "error_response", "install"]


class ApiError(Exception):
    def __init__(self, status, message, details=None, code=None):
        super().__init__(message)
        self.status, self.message, self.details = status, message, details
        self.code = code or CODES.get(status, "error")


def _field(loc):
    # ninja's locations start with where the value came from ("body", "query", "path").
    return ".".join(str(part) for part in loc[1:] if part not in ("payload",)) or str(loc[0] if loc else "")


def install(api):
    """Route every refusal through error_response."""

    @api.exception_handler(ApiError)
    def api_error(request, exc):
        return error_response(exc.status, exc.message, exc.details, exc.code)

    @api.exception_handler(SchemaError)
    def schema_error(request, exc):
        details = [{"field": _field(e.get("loc", ())), "reason": e.get("msg", "")} for e in exc.errors]
        return error_response(422, "The request is not valid.", details)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return error_response(401, "A valid personal API token is needed: Authorization: Bearer <token>.")

    @api.exception_handler(PermissionDenied)
    def forbidden(request, exc):
        return error_response(403, str(exc) or "Your role does not allow this.")

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return error_response(404, str(exc) or "Not found.")

    @api.exception_handler(DjangoValidationError)
    def refused(request, exc):
        # A do_* action refused the change as it stands (already acknowledged, not allowed from this state).
        return error_response(409, " ".join(exc.messages))

    @api.exception_handler(HttpError)
    def http_error(request, exc):
        return error_response(exc.status_code, str(exc))
