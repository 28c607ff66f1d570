"""Sign-ins and sign-outs go to the audit log with the address they came from.
A failed sign-in does not: anyone can cause one, and every entry waits for the
chain's single lock, so a stranger's guessing would hold up every change.
django-axes keeps each failure (AccessFailureLog, settings.AXES_*), and a
lockout, the failure worth tamper evidence, is chained (accounts/throttling.py)."""
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from .context import client_ip
from .log import record


def _ip(request):
    return client_ip(request) if request is not None else None


@receiver(user_logged_in, dispatch_uid="audit_user_logged_in")
def logged_in(sender, request, user, **kwargs):
    record("auth.login", obj=user, actor=user, ip=_ip(request))


@receiver(user_logged_out, dispatch_uid="audit_user_logged_out")
def logged_out(sender, request, user, **kwargs):
    if user is not None:
        record("auth.logout", obj=user, actor=user, ip=_ip(request))

