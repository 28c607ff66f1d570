"""How views state what they need. Every view is behind login (the
LoginRequiredMiddleware); `require` adds the permission and records it on the
view so tests can walk the URL conf and find any view that states none."""

from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied


def require(*perms):
    """Decorate a view with the permissions it needs; 403 without them."""

    def decorator(view):
        guarded = permission_required(perms, raise_exception=True)(view)
        guarded.required_permissions = perms
        return guarded

    return decorator


def public(view):
    """A view that needs no login (health probes, token-authenticated APIs, the
    signed acknowledge link). Saying so is explicit, like `require`."""
    view = login_not_required(view)
    view.required_permissions = ()
    view.is_public = True
    return view


def check(user, perm):
    """For code paths inside a view that need a second permission."""
    if not user.has_perm(perm):
        raise PermissionDenied(perm)


__all__ = ["require", "public", "check"]
