"""Admin → Axes → Access attempts: deleting an account's or an address's attempts
lifts its sign-in lockout; this keeps axes' admin and audits each lift."""
from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin

from ops_console.audit.log import record


class AuditedAccessAttemptAdmin(AccessAttemptAdmin):
    def delete_model(self, request, obj):
        _record_lift(obj, request.user)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for attempt in queryset:
            _record_lift(attempt, request.user)
        super().delete_queryset(request, queryset)


def _record_lift(attempt, user):
    record("auth.lockout_lifted", object_type="auth.user", object_repr=attempt.username or "", actor=user,
           before={"username": attempt.username, "ip": attempt.ip_address,
                   "failures": attempt.failures_since_start})


admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, AuditedAccessAttemptAdmin)
