"""The REST API at /api/v1/ (django-ninja): bearer personal tokens only, one error
shape (errors.py), the schema at /api/v1/openapi.json and its docs at /api/v1/docs
(Swagger UI from ninja's own static files: nothing from a CDN)."""
from django.urls import path, reverse
from ninja import NinjaAPI

from ops_console.ui.access import public

from . import audit, drills, errors, incidents, oncall, overrides, pagerduty, postmortems, runbooks, schedules
from .auth import PersonalTokenAuth

api = NinjaAPI(
    title="Ops Console API", version="1", urls_namespace="api", auth=PersonalTokenAuth(),
    description="Incidents, postmortems, runbooks, runs, schedules, drill results, on-call and overrides, and the "
                "audit log. "
                "Authenticate with a personal API token: `Authorization: Bearer <token>` (Account → API tokens). "
                "Bearer only: no session cookie is read. "
                'Errors: `{"error": {"code": ..., "message": ..., "details": ...}}`, also for an unknown path (404) '
                "or a wrong method (405). "
                "Lists are newest first; pass the response's `next` as `?cursor=` for the next page.",
)
errors.install(api)
for module in (incidents, postmortems, runbooks, schedules, drills, oncall, overrides, audit, pagerduty):
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


def unknown_path(request, rest=""):
    """Any other path under /api/v1/, and /api/v1/ itself (where ninja raises Http404 to
    Django's HTML page): a script gets the one error shape. The console's pages keep theirs."""
    return errors.error_response(404, f"There is no API endpoint at {request.path}.",
                                 {"schema": reverse("api:openapi-json"), "docs": reverse("api:openapi-view")})


def declared(patterns):
    # ninja reverses "api-root" to find its own prefix: the name stays, the view is ours.
    return [path(str(p.pattern), _declared_public(unknown_path if p.name == "api-root" else p.callback), name=p.name)
            for p in patterns]


app_name = "api"
# The catch-all comes last: ninja's operations and the intake (incidents.api_urls, included first) win.
urlpatterns = [*declared(api.urls[0]), path("<path:rest>", _declared_public(unknown_path), name="unknown")]
