"""Who is acting and from where, for code far from the request (domain
actions record audit entries without being handed the request)."""
import contextvars
import uuid
from dataclasses import dataclass, field


@dataclass
class AuditContext:
    user: object = None
    ip: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


_current = contextvars.ContextVar("ops_console_audit_context", default=None)


def current():
    return _current.get()


def activate(ctx):
    return _current.set(ctx)


def deactivate(token):
    _current.reset(token)


def client_ip(request):
    # REMOTE_ADDR is the balancer's address behind a proxy; trust the header
    # only when the deployment says a proxy sets it.
    from django.conf import settings

    if getattr(settings, "USE_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR")
