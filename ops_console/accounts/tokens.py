"""Creating and revoking personal API tokens, each audited in the same transaction."""
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from ops_console.audit import log as audit
from ops_console.audit.log import record

from .models import MAX_LIFETIME, PersonalToken, Scope


def _snapshot(token):
    return {"name": token.name, "prefix": token.prefix, "scope": token.scope, "user": token.user.get_username(),
            "expires_at": token.expires_at.isoformat()}


@audit.atomic
def do_create_api_token(user, *, name, scope, expires_at, acting_user):
    """Returns (token, raw). The raw value is shown once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("A token needs a name.")
    if scope not in Scope.values:
        raise ValidationError(f"Scope must be one of {', '.join(Scope.values)}.")
    now = timezone.now()
    if expires_at is None or expires_at <= now:
        raise ValidationError("A token needs an expiry in the future.")
    # A day of slack: the form picks a date, which becomes its midnight in the console's zone.
    if expires_at - now > MAX_LIFETIME + timedelta(days=1):
        raise ValidationError(f"A token may live at most {MAX_LIFETIME.days} days.")
    raw = PersonalToken.generate()
    token = PersonalToken(user=user, name=name[:100], scope=scope, expires_at=expires_at, created_at=now)
    token.set_raw(raw)
    token.save()
    record("apitoken.personal_created", obj=token, actor=acting_user, after=_snapshot(token))
    return token, raw


@audit.atomic
def do_revoke_api_token(token, *, acting_user):
    updated = PersonalToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if not updated:
        raise ValidationError(f"The token “{token.name}” is already revoked.")
    token.refresh_from_db()
    record("apitoken.personal_revoked", obj=token, actor=acting_user, after=_snapshot(token))
    return token
