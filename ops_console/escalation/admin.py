from django.contrib import admin

from .forms import ContactMethodForm
from .models import ContactMethod, Delivery, DeliveryAttempt, MaintenanceWindow, Page, ResponseRole


@admin.register(ResponseRole)
class ResponseRoleAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    """Where pages go: a person's Apprise URLs, or (no user) a team channel. The
    URL may hold secrets: shown masked; to change one, add a new method."""

    form = ContactMethodForm
    list_display = ["user", "label", "masked_url", "delay_minutes", "position", "enabled"]
    list_filter = ["enabled"]

    def get_fields(self, request, obj=None):
        return (["user", "url", "label", "delay_minutes", "position", "enabled"] if obj is None
                else ["user", "masked_url", "label", "delay_minutes", "position", "enabled"])

    def get_readonly_fields(self, request, obj=None):
        return ["masked_url"] if obj else []


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    list_display = ["incident", "user", "role_name", "level", "created_at", "acknowledged_at"]
    readonly_fields = [f.name for f in Page._meta.fields]


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "started_at", "finished_at", "outcome", "error", "worker"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["page", "channel", "masked_address", "status", "attempts", "next_attempt_at", "last_error"]
    list_filter = ["status", "channel"]
    readonly_fields = [f.name for f in Delivery._meta.fields if f.name != "address"] + ["masked_address"]
    exclude = ["address"]
    inlines = [AttemptInline]


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    # A recurring window (cron set) is in effect for `duration` from each occurrence, in its time zone.
    list_display = ["service", "starts_at", "ends_at", "cron", "duration", "time_zone", "reason"]
