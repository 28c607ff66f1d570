"""Sign-in throttling around django-axes: the page a locked-out sign-in gets,
and an audit entry for every lockout (settings: AXES_*)."""
from django.conf import settings
from django.shortcuts import render
from django.utils import timezone

from ops_console.audit.log import record


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: our page with the time the lock ends, instead of axes' bare text.
    Every refused attempt is a failure that starts the cool-off again, so it ends a cool-off from now."""
    started = getattr(request, "axes_attempt_time", None) or timezone.now()
    cooloff = settings.AXES_COOLOFF_TIME
    return render(request, "accounts/locked_out.html", {
        "ends_at": started + cooloff, "cooloff_minutes": int(cooloff.total_seconds() // 60),
    }, status=getattr(settings, "AXES_HTTP_RESPONSE_CODE", 429))


def audit_lockout(sender, request, username, ip_address, **kwargs):
    """axes sends user_locked_out for the failure that reaches the limit and again for every
    attempt refused while locked (those are audited as failed sign-ins already): record the first."""
    if getattr(request, "axes_failures_since_start", None) != settings.AXES_FAILURE_LIMIT:
        return
    username = str(username or "")[:150]
    record("auth.locked_out", object_type="auth.user", object_repr=username,
           after={"username": username, "ip": ip_address, "failures": settings.AXES_FAILURE_LIMIT,
                  "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)},
           ip=ip_address)
