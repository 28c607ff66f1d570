"""Bearer-only authentication with personal tokens. No session and no cookie is
read on the API, so there is nothing for a cross-site request to ride on and
CSRF does not apply; a request without a token is 401, whoever is signed in."""
from datetime import timedelta

from django.utils import timezone
from ninja.security import HttpBearer

from ops_console.accounts.models import PersonalToken

from .errors import ApiError

# Writing last_used_at on every request would add a write to every read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class PersonalTokenAuth(HttpBearer):
    def authenticate(self, request, token):
        found = PersonalToken.objects.authenticate(token.strip())
        if found is None:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at > LAST_USED_RESOLUTION:
            PersonalToken.objects.filter(pk=found.pk).update(last_used_at=now)
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
