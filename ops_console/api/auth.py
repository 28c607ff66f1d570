"""Bearer-only authentication with personal tokens. No session and no cookie is
read on the API, so there is nothing for a cross-site request to ride on and
CSRF does not apply; a request without a token is 401, whoever is signed in."""
from django.db.models import Q
from django.utils import timezone
from ninja.security import HttpBearer

from ops_console.accounts.models import PersonalToken

from .errors import ApiError


def record_use(token, now=None):
    """Keep last_used_at to the second of the latest use. Stored truncated to the
    second and written only when that second moved on, so a script's burst of calls
    costs one UPDATE a second, not one per call; the condition is in the UPDATE's
    WHERE, so of several requests in the same second only the first writes (the
    others find the condition false and write nothing)."""
    second = (now or timezone.now()).replace(microsecond=0)
    if token.last_used_at is not None and token.last_used_at >= second:
        return  # already this second: not even a query
    PersonalToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=second)).update(last_used_at=second)
    token.last_used_at = second


class PersonalTokenAuth(HttpBearer):
    def authenticate(self, request, token):
        found = PersonalToken.objects.authenticate(token.strip())
        if found is None:
            return None
        record_use(found)
        # The token acts as its owner: every permission check below asks the user.
        request.user = found.user
        return found


class Needs(PersonalTokenAuth):
    """An operation's authentication and permission in one: `auth=Needs("incidents.manage_incident",
    write=True)` is 401 without a usable token, then 403 unless its user holds every permission (the
    page's) and, for a change, the token is read-write. Ninja runs it before reading the body, so a
    caller without the right gets 403 whatever they sent."""

    def __init__(self, *perms, write=False):
        super().__init__()
        self.perms, self.write = perms, write

    def authenticate(self, request, token):
        found = super().authenticate(request, token)
        if found is not None:
            check(found, self.perms, write=self.write)
        return found


def check(token, perms, *, write=False):
    if write and not token.can_write:
        raise ApiError(403, "This token has the read scope; changes need a read-write token.", code="scope")
    missing = [perm for perm in perms if not token.user.has_perm(perm)]
    if missing:
        raise ApiError(403, "Your role does not allow this.", {"missing_permissions": missing})
