"""Sign-ins, failed sign-ins and sign-outs go to the audit log with the address
they came from."""
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
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


@receiver(user_login_failed, dispatch_uid="audit_user_login_failed")
def login_failed(sender, credentials, request=None, **kwargs):
    # credentials arrive cleansed (the password is masked); keep only the name tried.
    username = str(credentials.get("username", ""))[:150]
    record("auth.login_failed", object_type="auth.user", object_repr=username, after={"username": username},
           ip=_ip(request))
