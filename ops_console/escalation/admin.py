from django import forms
from django.contrib import admin

from .channels import REGISTRY
from .models import ContactMethod, Delivery, MaintenanceWindow, Page, ResponseRole


@admin.register(ResponseRole)
class ResponseRoleAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    """Where pages go: a person's e-mail/webhook/chat, or (no user) a team channel."""

    class Form(forms.ModelForm):
        channel = forms.ChoiceField(choices=lambda: [(kind, c.label) for kind, c in REGISTRY.items()])

    form = Form
    list_display = ["user", "channel", "address", "enabled"]
    list_filter = ["channel", "enabled"]


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    list_display = ["incident", "user", "role_name", "level", "created_at", "acknowledged_at"]
    readonly_fields = [f.name for f in Page._meta.fields]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["page", "channel", "address", "status", "attempts", "next_attempt_at", "last_error"]
    list_filter = ["status", "channel"]
    readonly_fields = [f.name for f in Delivery._meta.fields]


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["service", "starts_at", "ends_at", "reason"]
