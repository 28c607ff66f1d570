"""The REST API at /api/v1/ (django-ninja): bearer personal tokens only, one error
shape (errors.py), the schema at /api/v1/openapi.json and its docs at /api/v1/docs
(Swagger UI from ninja's own static files: nothing from a CDN)."""
from django.urls import path
from ninja import NinjaAPI

from ops_console.ui.access import public

from . import audit, errors, incidents, oncall, pagerduty, runbooks
from .auth import PersonalTokenAuth

api = NinjaAPI(
    title="Ops Console API", version="1", urls_namespace="api", auth=PersonalTokenAuth(),
    description="Incidents, runbooks, runs, on-call and the audit log. Authenticate with a personal API token: "
                "`Authorization: Bearer <token>` (Account → API tokens). Bearer only: no session cookie is read. "
                'Errors: `{"error": {"code": ..., "message": ..., "details": ...}}`. '
                "Lists are newest first; pass the response's `next` as `?cursor=` for the next page.",
)
errors.install(api)
for module in (incidents, runbooks, oncall, audit, pagerduty):
    api.add_router("", module.router)


def _declared_public(view):
    """Ninja's views, declared for the URL-conf walk (tests/ui/test_access.py): no
    login, because each authenticates its bearer token itself; CSRF does not apply,
    as no cookie is read."""

    def endpoint(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405:  # ninja answers a wrong method in plain text: our shape instead
            return errors.error_response(405, f"{request.method} is not allowed here.",
                                         {"allowed": [m.strip() for m in response.get("Allow", "").split(",")]})
        return response

    endpoint.csrf_exempt = True
    endpoint.__name__ = getattr(view, "__name__", "api_view")
    return public(endpoint)


def declared(patterns):
    return [path(str(p.pattern), _declared_public(p.callback), name=p.name) for p in patterns]


app_name = "api"
urlpatterns = declared(api.urls[0])
