"""Admin → Axes → Access attempts: deleting an account's or an address's attempts
lifts its sign-in lockout; this keeps axes' admin and audits each lift.
Admin → Personal API tokens: everyone's tokens, read-only, with a revoke action."""
from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from ops_console.audit.log import record

from .models import PersonalToken
from .tokens import do_revoke_api_token


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


@admin.register(PersonalToken)
class PersonalTokenAdmin(admin.ModelAdmin):
    """A token is made on the account's token page only, where its secret is shown
    once to its owner: no add form here (it would make a token nobody saw), no
    editing (scope and expiry were what the owner chose), no delete (revoking keeps
    the row the audit entries point at). The hash is never shown: it is not a secret
    one can use, but there is nothing to learn from it either."""

    list_display = ("name", "user", "scope", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at",
                    "state")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter), "expires_at")
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    fields = ("user", "name", "scope", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at", "state")
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description="State")
    def state(self, obj):
        return obj.state

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm("accounts.change_personaltoken")

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = 0
        for token in queryset.select_related("user"):
            try:
                do_revoke_api_token(token, acting_user=request.user)  # audited, as from the token page
            except ValidationError:
                continue  # already revoked: nothing to do
            revoked += 1
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
